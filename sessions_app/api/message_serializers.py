from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sessions_app.models import MEDIA_TYPES, Message, MessageType


class MediaSpecSerializer(serializers.Serializer[Any]):
    url = serializers.URLField(required=False, max_length=2000, help_text="Fetched by us; public addresses only.")
    base64 = serializers.CharField(required=False, help_text="The bytes, base64-encoded (a data: URL works too).")
    mime_type = serializers.CharField(required=False, max_length=100)
    filename = serializers.CharField(required=False, max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("url") and attrs.get("base64"):
            raise serializers.ValidationError("Give media.url or media.base64, not both.")
        return attrs


class LocationSerializer(serializers.Serializer[Any]):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    name = serializers.CharField(required=False, max_length=200, default="", allow_blank=True)
    address = serializers.CharField(required=False, max_length=500, default="", allow_blank=True)


class ContactSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    phone = serializers.CharField(max_length=32)
    organization = serializers.CharField(required=False, max_length=200, default="", allow_blank=True)


class ReactionSerializer(serializers.Serializer[Any]):
    message_id = serializers.UUIDField(help_text="The message (ours or received) to react to.")
    emoji = serializers.CharField(max_length=16, allow_blank=True, help_text="Empty removes the reaction.")


class MessageSendSerializer(serializers.Serializer[Any]):
    to = serializers.CharField(max_length=100, help_text="A phone number with country code, or a user or group JID.")
    type = serializers.ChoiceField(choices=MessageType.choices, default=MessageType.TEXT)
    text = serializers.CharField(required=False, max_length=65536)
    link_preview = serializers.BooleanField(required=False, default=False)
    caption = serializers.CharField(required=False, max_length=4096, allow_blank=True)
    media = MediaSpecSerializer(required=False)
    location = LocationSerializer(required=False)
    contact = ContactSerializer(required=False)
    reaction = ReactionSerializer(required=False)
    target = serializers.UUIDField(required=False, help_text="For edit and delete: our message to change.")
    reply_to = serializers.UUIDField(required=False, help_text="Quote this message of the chat.")
    mentions = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=100)
    expires_in = serializers.IntegerField(required=False, min_value=60, max_value=7 * 24 * 3600,
                                          help_text="Seconds a queued message may wait; default 4 hours.")  # fmt: skip
    wait = serializers.FloatField(required=False, min_value=0, max_value=30,
                                  help_text="Answer once the message is sent, or after this many seconds.")  # fmt: skip

    REQUIRED = {
        MessageType.TEXT: "text",
        MessageType.LOCATION: "location",
        MessageType.CONTACT: "contact",
        MessageType.REACTION: "reaction",
        MessageType.EDIT: "target",
        MessageType.DELETE: "target",
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["type"]
        needed = self.REQUIRED.get(kind)
        if needed and not attrs.get(needed):
            raise serializers.ValidationError({needed: [f"A {kind} message needs '{needed}'."]})
        if kind == MessageType.EDIT and not attrs.get("text"):
            raise serializers.ValidationError({"text": ["An edit needs the new text."]})
        uploaded = self.context.get("has_upload", False)
        spec = attrs.get("media") or {}
        if kind in MEDIA_TYPES and "media" in attrs and not (uploaded or spec.get("url") or spec.get("base64")):
            raise serializers.ValidationError({"media": ["Give media.url, media.base64, or upload a file."]})
        return attrs


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


class ChatSerializer(serializers.Serializer[Any]):
    chat_jid = serializers.CharField()
    unread = serializers.IntegerField()
    last_message = MessageSerializer()


class MarkReadSerializer(serializers.Serializer[Any]):
    message_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=1000)


class CheckNumbersSerializer(serializers.Serializer[Any]):
    phones = serializers.ListField(child=serializers.CharField(max_length=32), allow_empty=False, max_length=100)


class PresenceSerializer(serializers.Serializer[Any]):
    to = serializers.CharField(max_length=100)
    state = serializers.ChoiceField(choices=[("composing", "typing"), ("recording", "recording audio"),
                                             ("paused", "stopped typing")])  # fmt: skip


# Answers of the chat endpoints, as the API documents them.
class ChatListSerializer(serializers.Serializer[Any]):
    results = ChatSerializer(many=True, help_text="The 200 most recently active chats, newest first.")


class MarkedReadSerializer(serializers.Serializer[Any]):
    marked = serializers.ListField(child=serializers.UUIDField(), help_text="The received messages marked read.")


class NumberCheckSerializer(serializers.Serializer[Any]):
    phone = serializers.CharField(help_text="The number checked, E.164.")
    on_whatsapp = serializers.BooleanField()
    jid = serializers.CharField(help_text="Its WhatsApp JID; empty when it is not on WhatsApp.")


class NumberChecksSerializer(serializers.Serializer[Any]):
    results = NumberCheckSerializer(many=True, help_text="One per number, in the order asked.")


class AcceptedSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField(help_text="Always true.")


def max_upload() -> int:
    return int(settings.MEDIA_MAX_BYTES)


@functools.cache
def _shared_message_serializer() -> MessageSerializer:
    return MessageSerializer()


def message_data(message: Message) -> dict[str, Any]:
    """What MessageSerializer(message).data gives, as a plain dict. A ModelSerializer builds its fields from the model
    for every instance, most of the cost of one message; the hot paths (the answer to a send, every ingest event)
    share one instance instead. Its fields hold no per-message state, so sharing it across threads is safe."""
    return dict(_shared_message_serializer().to_representation(message))
