"""A session as the API and the portal's live pages show it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sessions_app.models import WhatsAppSession


class AccountSerializer(serializers.Serializer[Any]):
    phone = serializers.CharField()
    jid = serializers.CharField()
    push_name = serializers.CharField()
    connected_at = serializers.DateTimeField(allow_null=True)


class SessionSerializer(serializers.ModelSerializer[WhatsAppSession]):
    account = serializers.SerializerMethodField()
    sandbox = serializers.BooleanField(source="is_sandbox", read_only=True)

    class Meta:
        model = WhatsAppSession
        fields = [
            "id", "name", "engine", "sandbox", "pairing_method", "metadata", "state", "state_reason",
            "state_changed_at", "account", "qr_expires_at", "pairing_code", "has_snapshot", "send_rate_per_minute",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(AccountSerializer(allow_null=True))
    def get_account(self, session: WhatsAppSession) -> dict[str, Any] | None:
        if not session.phone:
            return None
        return {
            "phone": session.phone,
            "jid": session.jid,
            "push_name": session.push_name,
            "connected_at": serializers.DateTimeField().to_representation(session.connected_at)
            if session.connected_at
            else None,
        }


def session_data(session: WhatsAppSession) -> dict[str, Any]:
    return dict(SessionSerializer(session).data)
