"""Customer events, webhook endpoints, and the log of every delivery attempt."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import Workspace
from paas.fields import ValuesInsertedJSONField


class EventType(models.TextChoices):
    SESSION_STATUS = "session.status", "A session's state changed"
    MESSAGE_RECEIVED = "message.received", "A message arrived"
    MESSAGE_SENT_ELSEWHERE = "message.sent_elsewhere", "The account sent a message from its phone or another device"
    MESSAGE_STATUS = "message.status", "A sent message's status changed"
    MESSAGE_REACTION = "message.reaction", "A message got or lost a reaction"
    MESSAGE_EDITED = "message.edited", "A message was edited"
    MESSAGE_REVOKED = "message.revoked", "A message was deleted for everyone"
    WEBHOOK_TEST = "webhook.test", "A test event, sent on request"


class Event(models.Model):
    """One thing that happened, in the envelope customers receive by webhook and on the live stream."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(
        "sessions_app.WhatsAppSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    type = models.CharField(max_length=40, choices=EventType.choices)
    envelope = ValuesInsertedJSONField(
        help_text="Exactly what is delivered: id, type, created_at, workspace, session, data."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)  # the envelope's own time

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["workspace", "created_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, blank=True, help_text="Empty: every type.")
    session_ids = models.JSONField(default=list, blank=True, help_text="Empty: every session.")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["endpoint", "status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"

    @property
    def last_attempt(self) -> DeliveryAttempt | None:
        """The latest attempt, from the prefetched attempts when they are (the delivery log's pages prefetch them).
        Templates cannot take it themselves: ``|last`` indexes from the end, which a QuerySet refuses."""
        attempts = list(self.attempts.all())
        return attempts[-1] if attempts else None


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_snippet = models.TextField(blank=True, help_text="The first 1,000 characters of the response body.")
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["attempted_at"]

    def __str__(self) -> str:
        return f"attempt {self.pk} of {self.delivery_id}"
