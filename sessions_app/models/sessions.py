"""WhatsApp sessions (linked numbers) and the events workers report about them."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import Workspace
from paas.fields import ValuesInsertedJSONField
from workers_app.models import Engine, Worker


class SessionState(models.TextChoices):
    PENDING = "pending", "Pending"
    STARTING = "starting", "Starting"
    SCAN_QR = "scan_qr", "Waiting for QR scan"
    PAIRING_CODE = "pairing_code", "Waiting for pairing code"
    CONNECTED = "connected", "Connected"
    RECONNECTING = "reconnecting", "Reconnecting"
    STOPPED = "stopped", "Stopped"
    LOGGED_OUT = "logged_out", "Logged out"
    FAILED = "failed", "Failed"


class PairingMethod(models.TextChoices):
    QR = "qr", "QR code"
    CODE = "code", "Pairing code"


class Desired(models.TextChoices):
    RUN = "run", "Run"
    STOP = "stop", "Stop"


class WhatsAppSession(models.Model):
    """A WhatsApp number linked (or being linked) to a workspace, hosted by one worker at a time.

    ``epoch`` fences ownership: each assignment to a worker increments it, and events or heartbeats that carry an older
    epoch are refused, so one session never runs on two workers.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="whatsapp_sessions")
    name = models.CharField(max_length=100)
    engine = models.CharField(max_length=20, choices=Engine.choices, default=Engine.SANDBOX)
    pairing_method = models.CharField(max_length=10, choices=PairingMethod.choices, default=PairingMethod.QR)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    desired = models.CharField(max_length=4, choices=Desired.choices, default=Desired.RUN)
    state = models.CharField(max_length=20, choices=SessionState.choices, default=SessionState.PENDING)
    state_reason = models.CharField(max_length=200, blank=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    worker = models.ForeignKey(Worker, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions")
    epoch = models.PositiveIntegerField(default=0)

    qr_code = models.TextField(blank=True)
    qr_expires_at = models.DateTimeField(null=True, blank=True)
    pairing_code = models.CharField(max_length=16, blank=True)
    pairing_phone = models.CharField(max_length=20, blank=True)

    phone = models.CharField(max_length=20, blank=True)
    jid = models.CharField(max_length=100, blank=True)
    push_name = models.CharField(max_length=100, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    has_snapshot = models.BooleanField(default=False)
    send_rate_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Outgoing messages per minute; empty: the deployment's default."
    )

    class Meta:
        verbose_name = "WhatsApp session"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["worker", "desired"]), models.Index(fields=["workspace", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"

    @property
    def is_sandbox(self) -> bool:
        return self.engine == Engine.SANDBOX


class SessionAssignment(models.Model):
    """One assignment of a session to a worker: the epoch it ran under there. Ingest accepts a worker's events only
    for the (session, epoch) pairs it was given, so a worker token never writes into a session it did not hold."""

    id = models.BigAutoField(primary_key=True)
    session = models.ForeignKey(WhatsAppSession, on_delete=models.CASCADE, related_name="assignments")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="assignments")
    epoch = models.PositiveIntegerField()
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "epoch"]
        constraints = [models.UniqueConstraint(fields=["session", "epoch"], name="session_assignment_epoch_unique")]
        indexes = [models.Index(fields=["worker", "session"])]

    def __str__(self) -> str:
        return f"{self.session_id} epoch {self.epoch} on {self.worker_id}"


class SessionEvent(models.Model):
    """An event a worker reported, stored once by its id (ingest is idempotent)."""

    id = models.UUIDField(primary_key=True, editable=False)
    session = models.ForeignKey(WhatsAppSession, on_delete=models.CASCADE, related_name="events")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    epoch = models.PositiveIntegerField()
    type = models.CharField(max_length=50)
    data = ValuesInsertedJSONField(default=dict)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at"]
        indexes = [models.Index(fields=["session", "received_at"])]

    def __str__(self) -> str:
        return f"{self.type} for {self.session_id}"
