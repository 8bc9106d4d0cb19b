from __future__ import annotations

from typing import Any

from rest_framework import serializers

from sessions_app.models import Delivery, DeliveryAttempt, EventType, WebhookEndpoint


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    class Meta:
        model = WebhookEndpoint
        fields = [
            "id", "url", "description", "event_types", "session_ids", "enabled", "disabled_reason", "secret",
            "previous_secret_expires_at", "failing_since", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class WebhookEndpointWriteSerializer(serializers.Serializer[Any]):
    url = serializers.URLField(max_length=2000)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    # The same limits on create and on update (PATCH validates with this serializer, partial).
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), required=False, max_length=100
    )
    session_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000)
    enabled = serializers.BooleanField(required=False)

    def validate_event_types(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))  # each type once: a repeat would only lengthen every event's check

    def validate_session_ids(self, value: list[Any]) -> list[Any]:
        return list(dict.fromkeys(value))


class DeliveryAttemptSerializer(serializers.ModelSerializer[DeliveryAttempt]):
    class Meta:
        model = DeliveryAttempt
        fields = ["attempted_at", "status_code", "latency_ms", "response_snippet", "error"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    event = serializers.JSONField(source="event.envelope", read_only=True)
    endpoint = serializers.UUIDField(source="endpoint_id", read_only=True)
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id", "endpoint", "event", "status", "attempt_count", "next_attempt_at", "last_status_code", "created_at",
            "completed_at", "attempts",
        ]  # fmt: skip
        read_only_fields = fields


class ReplaySerializer(serializers.Serializer[Any]):
    since = serializers.DateTimeField(help_text="Replay every failed delivery created since this time.")


class ReplayedSerializer(serializers.Serializer[Any]):
    replayed = serializers.IntegerField(help_text="How many deliveries were sent again, as new deliveries.")
