from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import DateTimeField
from django.utils import timezone
from rest_framework import serializers

from sessions_app.models import MEDIA_TYPES, Direction, MessageStatus, MessageType
from sessions_app.services.messages.payloads import MessageSerializer


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


def _filter_text() -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class MessageFilterSerializer(serializers.Serializer[Any]):
    """The message list's query: a direction or status that is not one is no filter; a time that is not one is a
    validation error."""

    chat = _filter_text()
    direction = _filter_text()
    status = _filter_text()
    since = _filter_text()
    until = _filter_text()

    def validate_direction(self, value: str) -> str:
        return value if value in Direction.values else ""

    def validate_status(self, value: str) -> str:
        return value if value in MessageStatus.values else ""

    def validate_since(self, value: str) -> datetime | None:
        return _time_param(value)

    def validate_until(self, value: str) -> datetime | None:
        return _time_param(value)


def _time_param(raw: str) -> datetime | None:
    """A ``since``/``until`` filter as an aware time in UTC: an ISO 8601 time (or a date, as midnight UTC). PostgreSQL
    takes offsets up to 15:59 only, Python up to 23:59, so the time goes to it in UTC; year 1 at +23:59 is none."""
    if not raw:
        return None
    try:
        value = DateTimeField().to_python(raw)
        if timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
        return value.astimezone(UTC)
    except (DjangoValidationError, OverflowError, ValueError):
        raise serializers.ValidationError("Give an ISO 8601 time, e.g. 2026-03-01T12:00:00Z.") from None
