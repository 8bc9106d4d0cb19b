from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import serializers

from paas.api.fields import JSONObjectField
from sessions_app.models import PairingMethod
from sessions_app.services.messages.recipients import normalize_phone


class SessionCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    engine = serializers.CharField(required=False, help_text="One of the enabled engines; the first is the default.")
    pairing_method = serializers.ChoiceField(choices=PairingMethod.choices, default=PairingMethod.QR)
    pairing_phone = serializers.CharField(
        required=False, max_length=32,
        help_text="With pairing_method code: the number being linked, with its country code. The session then asks "
        "for its pairing code by itself as soon as it is ready.",
    )  # fmt: skip
    metadata = JSONObjectField(required=False, default=dict)
    start = serializers.BooleanField(default=True, help_text="Start pairing at once (default).")
    send_rate_per_minute = serializers.IntegerField(required=False, min_value=1, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        phone = attrs.get("pairing_phone")
        if phone is None:
            return attrs
        if attrs["pairing_method"] != PairingMethod.CODE:
            raise serializers.ValidationError({"pairing_phone": ["Only with pairing_method code."]})
        sandbox = attrs.get("engine", settings.SESSION_ENGINES[0]) == "sandbox"
        try:
            attrs["pairing_phone"] = normalize_phone(phone, strict=not sandbox)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({"pairing_phone": error.detail}) from error
        return attrs

    def validate_send_rate_per_minute(self, value: int | None) -> int | None:
        if value is not None and value > settings.SEND_RATE_MAX_PER_MINUTE:
            raise serializers.ValidationError(f"At most {settings.SEND_RATE_MAX_PER_MINUTE} messages a minute.")
        return value

    def validate_engine(self, value: str) -> str:
        if value not in settings.SESSION_ENGINES:
            raise serializers.ValidationError(
                f"Choose one of the enabled engines: {', '.join(settings.SESSION_ENGINES)}."
            )
        return value

    def validate_metadata(self, value: dict[str, Any]) -> dict[str, Any]:
        return checked_metadata(value)


METADATA_MAX_BYTES = 4096


def checked_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """Create and update alike: at most 4 KB, as stored (JSON in UTF-8)."""
    if len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()) > METADATA_MAX_BYTES:
        raise serializers.ValidationError("Metadata is limited to 4 KB (as JSON in UTF-8).")
    return value


class SessionUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    metadata = JSONObjectField(required=False)
    send_rate_per_minute = serializers.IntegerField(required=False, min_value=1, allow_null=True)

    validate_send_rate_per_minute = SessionCreateSerializer.validate_send_rate_per_minute
    validate_metadata = SessionCreateSerializer.validate_metadata


class PairingCodeRequestSerializer(serializers.Serializer[Any]):
    phone = serializers.CharField(max_length=32, help_text="The number to link, with its country code.")

    def validate_phone(self, value: str) -> str:
        # Sandbox sessions pair with sandbox numbers (+1 555 01…), which are possible but not valid numbers.
        return normalize_phone(value, strict=not self.context.get("sandbox", False))


class PairingCodeSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    phone = serializers.CharField()


class QRCodeSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="The raw QR payload, as WhatsApp's linked-devices screen scans it.")
    expires_at = serializers.DateTimeField(allow_null=True)


class SandboxScanSerializer(serializers.Serializer[Any]):
    phone = serializers.CharField(
        max_length=32, required=False, help_text="The sandbox number that scans; random if omitted."
    )
    push_name = serializers.CharField(max_length=100, required=False, default="Sandbox User")

    def validate_phone(self, value: str) -> str:
        return normalize_phone(value, strict=False)
