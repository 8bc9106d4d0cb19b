"""A message as the API, the live stream and webhooks show it, and as a worker receives it to send it."""

from __future__ import annotations

import functools
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sessions_app.models import Direction, Message
from sessions_app.services.messages.recipients import jid_phone
from worker_node.contract.outbox import MediaRef, MessageRef, OutboxMessage


class SenderSerializer(serializers.Serializer[Any]):
    jid = serializers.CharField(help_text="Who wrote it (a user JID or LID); the account itself for outgoing ones.")
    phone = serializers.CharField(help_text="E.164; empty when WhatsApp named the sender only by a LID.")
    push_name = serializers.CharField(help_text="Their WhatsApp profile name, when known.")


class MediaInfoSerializer(serializers.Serializer[Any]):
    mime_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    filename = serializers.CharField()
    url = serializers.CharField(help_text="GET it with your API key.")


class MessageSerializer(serializers.ModelSerializer[Message]):
    session = serializers.UUIDField(source="session_id", read_only=True)
    media = serializers.SerializerMethodField()
    reply_to = serializers.UUIDField(source="reply_to_id", read_only=True, allow_null=True)
    target = serializers.UUIDField(source="target_id", read_only=True, allow_null=True)
    sender = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id", "session", "direction", "type", "chat_jid", "sender", "content", "media", "reply_to", "target",
            "wa_id", "status", "failure_reason", "reactions", "created_at", "timestamp", "sent_at", "delivered_at",
            "read_at", "expires_at", "edited_at", "revoked_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(MediaInfoSerializer(allow_null=True))
    def get_media(self, message: Message) -> dict[str, Any] | None:
        if not message.media_path:
            return None
        return {
            "mime_type": message.media_mime,
            "size": message.media_size,
            "sha256": message.media_sha256,
            "filename": message.media_filename,
            "url": f"/api/v1/messages/{message.pk}/media",
        }

    @extend_schema_field(SenderSerializer)
    def get_sender(self, message: Message) -> dict[str, str]:
        return {"jid": message.sender_jid, "phone": message.sender_phone, "push_name": message.push_name}


@functools.cache
def _shared_message_serializer() -> MessageSerializer:
    return MessageSerializer()


def message_data(message: Message) -> dict[str, Any]:
    """What MessageSerializer(message).data gives, as a plain dict. A ModelSerializer builds its fields from the model
    for every instance, most of the cost of one message; the hot paths (the answer to a send, every ingest event)
    share one instance instead. Its fields hold no per-message state, so sharing it across threads is safe."""
    return dict(_shared_message_serializer().to_representation(message))


def message_payload(message: Message) -> OutboxMessage:
    """What the worker needs to send ``message``."""

    def ref(other: Message | None) -> MessageRef | None:
        if other is None:
            return None
        # An outbound message may not have its WhatsApp id yet: the worker maps our id to it once sent.
        return {"message_id": str(other.pk), "wa_id": other.wa_id, "from_me": other.direction == Direction.OUTBOUND,
                "sender_jid": other.sender_jid, "chat_jid": other.chat_jid}  # fmt: skip

    media: MediaRef | None = None
    if message.media_path:
        media = {"path": message.media_path, "mime": message.media_mime, "filename": message.media_filename,
                 "size": message.media_size, "sha256": message.media_sha256}  # fmt: skip
    return {
        "id": str(message.pk),
        "type": message.type,
        "to": message.chat_jid,
        "to_phone": jid_phone(message.chat_jid),
        "content": message.content,
        "media": media,
        "reply_to": ref(message.reply_to),
        "target": ref(message.target),
        "expires_at": message.expires_at.isoformat() if message.expires_at else None,
    }
