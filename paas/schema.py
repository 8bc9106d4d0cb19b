"""OpenAPI description of our conventions: API-key auth, and the one error shape with its stable codes on every
operation, for every status it answers (docs/api.md#the-schema)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from paas.api.parsers import MAX_JSON_DEPTH
from paas.api.permissions import required_scope


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


def error(description: str, /, **codes: str) -> ErrorResponse:
    """An error status of one operation: what it means and, for each stable code it can carry, when. The codes every
    operation of its kind shares (see ``_common_errors``) are added by the schema itself."""
    return ErrorResponse(description, codes)


class ErrorResponse(OpenApiResponse):
    def __init__(self, description: str, codes: dict[str, str]) -> None:
        super().__init__(response=ErrorSerializer, description=description)
        self.codes = codes


_AUTH_CODES = {
    "not_authenticated": "there is no `Authorization` header",
    "malformed_api_key": "the header is not `Bearer <key>`, or the key is not well-formed (its checksum fails)",
    "unknown_api_key": "no such key",
    "api_key_revoked": "the key has been revoked",
    "api_key_expired": "the key has expired",
}
_NOT_ACCEPTABLE = {"not_acceptable": "checked before anything else, on every operation (images too: errors are JSON)"}
_STATUS_DESCRIPTIONS = {
    "400": "The request is not valid.",
    "401": "No API key, or one that cannot be used.",
    "403": "The API key may not do this.",
    "404": "Not found.",
    "406": "The Accept header does not allow `application/json`.",
    "409": "The current state does not allow this.",
    "411": "The body was sent without a Content-Length (chunked).",
    "413": "The request is too large.",
    "415": "The body's content type is not accepted.",
    "422": "The request cannot be processed.",
    "429": "Too many requests; try again after the seconds of the Retry-After header.",
    "503": "A service this request needs cannot be reached right now; try again shortly.",
}
_HEADERS = {
    "401": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Always `Bearer realm="api"`.'}},
    "429": {
        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until a request would be accepted."}
    },
}


class SwitchboardAutoSchema(AutoSchema):
    """Every operation documents every status it answers, each with the one error shape and its stable codes: those
    any request can meet (``_common_errors``) and those its view declares with ``error(...)``. View docstrings are
    for developers, so an operation's description is only what its ``extend_schema`` says, plus the scope it needs."""

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's signature, not DRF's
        return ""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        scope = required_scope(self.view, self.method)
        description = operation.pop("description", "").rstrip()
        if scope:
            description = f"{description}\n\nScope: `{scope}`.".lstrip()
        # Summary and description first, where people reading the raw schema look.
        head = {"operationId": operation.pop("operationId"), "summary": operation.pop("summary", ""),
                "description": description}  # fmt: skip
        operation = {**{k: v for k, v in head.items() if v}, **operation}
        responses = operation["responses"]
        for status, response in responses.items():
            response["description"] = response.get("description") or HTTPStatus(int(status)).phrase
        for status, (meaning, codes) in self._errors().items():
            response = self._get_response_for_code(ErrorSerializer, status)
            response["description"] = meaning + "".join(f"\n- `{code}`: {when}" for code, when in codes.items())
            if status in _HEADERS:
                response["headers"] = _HEADERS[status]
            responses[status] = response
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _get_pagination_parameters(self) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super()._get_pagination_parameters()
        paginator = self._get_paginator()
        for parameter in parameters:
            if parameter["name"] == paginator.cursor_query_param:
                parameter["description"] = (
                    "Where the page starts: leave it out for the first page, then follow the `next` and `previous` "
                    "links as they are."
                )
            elif parameter["name"] == paginator.page_size_query_param:
                parameter["description"] = "How many results a page holds."
                parameter["schema"] = {
                    "type": "integer", "minimum": 1, "maximum": paginator.max_page_size, "default": paginator.page_size
                }  # fmt: skip
        return parameters

    def _errors(self) -> dict[str, tuple[str, dict[str, str]]]:
        declared: Any = self.get_response_serializers()
        errors = {status: ("", codes) for status, codes in self._common_errors().items()}
        for status, response in declared.items() if isinstance(declared, dict) else ():
            if isinstance(response, ErrorResponse):
                _, common = errors.get(str(status), ("", {}))
                errors[str(status)] = (str(response.description), {**common, **response.codes})
        return {
            status: ((description or _STATUS_DESCRIPTIONS[status]) + ("\n" if codes else ""), codes)
            for status, (description, codes) in errors.items()
        }

    def _common_errors(self) -> dict[str, dict[str, str]]:
        errors: dict[str, dict[str, str]] = {"401": _AUTH_CODES, "406": _NOT_ACCEPTABLE}
        scope = required_scope(self.view, self.method)
        if scope:
            errors["403"] = {"missing_scope": f"the API key lacks the scope `{scope}`"}
        # The query string is checked on every operation (paas/api/middleware.py), the body where there is one.
        fields = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        bad = {
            "validation_error": "a query parameter holds a NUL character",
            "too_many_fields": f"more than {fields:,} query parameters",
        }
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            bad["validation_error"] = (
                "a field is missing or wrong, or holds a NUL character; `details` maps each field to its messages"
            )
            bad["parse_error"] = "the body is not valid JSON (or not a valid form)"
            bad["json_too_deep"] = f"the JSON nests deeper than {MAX_JSON_DEPTH} levels"
            bad["too_many_fields"] = f"more than {fields:,} form fields or query parameters"
            bad["too_many_files"] = f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files in a multipart body"
            bad["bad_request"] = "another body Django finds malformed"
            errors["411"] = {"length_required": "the body was sent chunked, without a Content-Length header"}
            errors["413"] = {"request_too_large": "the body is larger than the gateway accepts (`details.max_bytes`)"}
            errors["415"] = {
                "unsupported_media_type": "the body is not `application/json`, `multipart/form-data` or "
                "`application/x-www-form-urlencoded`"
            }
        paginator = self._get_paginator() if self.method == "GET" and self._is_list_view() else None
        if paginator is not None:
            bad["invalid_cursor"] = "`cursor` is not one this list handed out"
            bad["invalid_page_size"] = f"`page_size` is not a whole number from 1 to {paginator.max_page_size}"
        errors["400"] = bad
        if "{" in self.path:
            errors["404"] = {"not_found": "no such object in this workspace (or the id is not a UUID)"}
        errors["429"] = {"rate_limited": "this API key made too many requests; `details.retry_after` is in seconds"}
        return errors
