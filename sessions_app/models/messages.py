"""Messages (both directions), their media, and the idempotency records of the send endpoint."""

from __future__ import annotations

import uuid

from django.db import models

from accounts.models import Workspace


class MessageType(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    AUDIO = "audio", "Audio"
    VOICE = "voice", "Voice note"
    DOCUMENT = "document", "Document"
    STICKER = "sticker", "Sticker"
    LOCATION = "location", "Location"
    CONTACT = "contact", "Contact card"
    REACTION = "reaction", "Reaction"
    EDIT = "edit", "Edit"
    DELETE = "delete", "Delete for everyone"


MEDIA_TYPES = {MessageType.IMAGE, MessageType.VIDEO, MessageType.AUDIO, MessageType.VOICE, MessageType.DOCUMENT,
               MessageType.STICKER}  # fmt: skip


class Direction(models.TextChoices):
    OUTBOUND = "out", "Sent"
    INBOUND = "in", "Received"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    PLAYED = "played", "Played"
    FAILED = "failed", "Failed"
    RECEIVED = "received", "Received"


# Statuses only move forward: a late "delivered" never overwrites "read".
STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4}


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey("sessions_app.WhatsAppSession", on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    type = models.CharField(max_length=10, choices=MessageType.choices)
    chat_jid = models.CharField(max_length=100, help_text="The chat: a user or group JID.")
    sender_jid = models.CharField(max_length=100, blank=True)
    sender_phone = models.CharField(max_length=20, blank=True, help_text="E.164, resolved from a LID when known.")
    push_name = models.CharField(max_length=100, blank=True)
    content = models.JSONField(default=dict, help_text="Text, caption, location, contact, reaction, mentions, …")
    media_path = models.CharField(max_length=300, blank=True)
    media_mime = models.CharField(max_length=100, blank=True)
    media_size = models.PositiveBigIntegerField(null=True, blank=True)
    media_sha256 = models.CharField(max_length=64, blank=True)
    media_filename = models.CharField(max_length=255, blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The message a reaction, edit or delete refers to.",
    )  # fmt: skip
    wa_id = models.CharField(max_length=100, blank=True, db_index=True, help_text="WhatsApp's id of the message.")
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    failure_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    timestamp = models.DateTimeField(null=True, blank=True, help_text="When WhatsApp says it was sent.")
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    dispatched_epoch = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    reactions = models.JSONField(default=dict, blank=True, help_text="Reacting JID → emoji.")
    unread = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["session", "created_at"]),
            models.Index(fields=["session", "chat_jid", "created_at"]),
            models.Index(fields=["session", "status", "created_at"]),
            # The platform's queued messages (the outbox sweep, /metrics) without reading every message ever sent:
            # only queued outbound rows are in it, so it stays as small as the outbox.
            models.Index(
                fields=["created_at"],
                name="message_outbox_queued",
                condition=models.Q(status="queued", direction="out"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "wa_id"], condition=~models.Q(wa_id=""), name="one_message_per_whatsapp_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.type} {self.id}"


class IdempotencyRecord(models.Model):
    """The first answer to a send with an Idempotency-Key, replayed for 24 hours to the same key and body."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    body_hash = models.CharField(max_length=64)
    message = models.ForeignKey(Message, null=True, on_delete=models.CASCADE, related_name="+")
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="one_record_per_idempotency_key")]

    def __str__(self) -> str:
        return f"Idempotency-Key {self.key}"
