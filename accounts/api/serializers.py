from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from rest_framework import serializers

from accounts.models import APIKey, Scope, Workspace


class WorkspaceSerializer(serializers.ModelSerializer[Workspace]):
    class Meta:
        model = Workspace
        fields = ["id", "name", "created_at"]


class APIKeySerializer(serializers.ModelSerializer[APIKey]):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))
    created_by = serializers.EmailField(source="created_by.email", default=None, read_only=True, allow_null=True)

    class Meta:
        model = APIKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "created_by",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class APIKeyCreateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=100)
    scopes = serializers.MultipleChoiceField(choices=Scope.choices, allow_empty=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_expires_at(self, value: datetime | None) -> datetime | None:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("The expiry must be in the future.")
        return value


class IssuedAPIKeySerializer(APIKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The full key. It is shown only in this response.")

    class Meta(APIKeySerializer.Meta):
        fields = [*APIKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class WhoAmISerializer(serializers.Serializer[dict[str, object]]):
    workspace = WorkspaceSerializer()
    api_key = APIKeySerializer()
