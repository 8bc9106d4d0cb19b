"""Worker nodes and the enrollment tokens that let them join the pool."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class EnrollmentToken(models.Model):
    """Created by an operator in the admin; a worker presents it once to register and receive its own token."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, help_text="What this token is for, e.g. 'eu-west pool'.")
    prefix = models.CharField(max_length=32, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    uses = models.PositiveIntegerField(default=0, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def refusal(self) -> str | None:
        """Why this token cannot enroll a worker now, or None."""
        if self.revoked_at is not None:
            return "enrollment_token_revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "enrollment_token_expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "enrollment_token_used_up"
        return None


class WorkerState(models.TextChoices):
    ACTIVE = "active", "Active"
    DRAINING = "draining", "Draining"
    DEAD = "dead", "Dead"
    REVOKED = "revoked", "Revoked"


class Engine(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox"
    NEONIZE = "neonize", "WhatsApp (neonize)"


class Worker(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    advertise_url = models.URLField(help_text="Where the gateway reaches this worker's command server.")
    engine = models.CharField(max_length=20, choices=Engine.choices)
    capacity = models.PositiveIntegerField(default=100)
    version = models.CharField(max_length=50, blank=True)
    state = models.CharField(max_length=10, choices=WorkerState.choices, default=WorkerState.ACTIVE)
    token_prefix = models.CharField(max_length=32, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    enrolled_with = models.ForeignKey(EnrollmentToken, null=True, blank=True, on_delete=models.SET_NULL)
    registered_at = models.DateTimeField(auto_now_add=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    load = models.PositiveIntegerField(default=0, help_text="Sessions running, as last reported.")
    events_refused = models.PositiveBigIntegerField(
        default=0,
        editable=False,
        help_text="Events this worker posted that ingest refused: for sessions or epochs it did not hold, or invalid.",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    draining_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was last drained: what it still holds after the drain timeout moves anyway.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.engine}, {self.state})"
