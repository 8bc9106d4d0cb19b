"""OpenAPI description of our conventions: API-key auth and the one error shape on every operation."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "paas.api.authentication.APIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sb_live_…",
            "description": "A workspace API key, created in the portal under API keys.",
        }


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable, machine-readable: switch on this.")
    message = serializers.CharField(help_text="For people; may change.")
    details = serializers.DictField(help_text="Per-field errors or other specifics; {} when there are none.")


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorDetailSerializer()

    class Meta:
        ref_name = "Error"


_ERRORS = {
    "400": "The request is not valid.",
    "401": "No API key, or a malformed, unknown, expired or revoked one.",
    "403": "The API key lacks the scope this operation needs.",
    "404": "No such object in this workspace.",
    "429": "Too many requests; see the Retry-After header.",
}


class SwitchboardAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code, description in _ERRORS.items():
            if code == "400" and self.method not in ("POST", "PUT", "PATCH"):
                continue
            if code == "404" and "{" not in self.path:
                continue
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = description
                responses[code] = response
        return responses
