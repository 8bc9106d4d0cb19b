"""One JSON error shape for the whole API: ``{"error": {"code", "message", "details"}}``.

DRF's exceptions, Django's 404 and permission errors, and unhandled exceptions all leave the API in this shape, with a
stable machine-readable ``code`` that clients can switch on and a ``message`` a person can read.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

# DRF's default codes, renamed where the default is vague.
_CODE_FOR_EXCEPTION: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


class APIError(exceptions.APIException):
    """An error raised by a service with its own stable code, HTTP status and optional details."""

    def __init__(self, code: str, message: str, *, status_code: int = 400, details: Any = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details


class Conflict(APIError):
    def __init__(self, code: str, message: str, *, details: Any = None) -> None:
        super().__init__(code, message, status_code=status.HTTP_409_CONFLICT, details=details)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


def _error_code(exc: exceptions.APIException) -> str:
    if isinstance(exc, APIError):
        return exc.error_code
    codes = exc.get_codes()
    # Our own raises pass a specific code (e.g. "api_key_revoked"); keep it instead of the class default.
    if isinstance(codes, str) and codes not in {exc.default_code, "invalid", "error"}:
        return codes
    for klass, code in _CODE_FOR_EXCEPTION.items():
        if isinstance(exc, klass):
            return code
    return exc.default_code if isinstance(exc.default_code, str) else "error"


def _message(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "The request is not valid; see details for each field."
    if isinstance(exc, exceptions.Throttled):
        wait = getattr(exc, "wait", None)
        return f"Too many requests. Try again in {wait:.0f} seconds." if wait else "Too many requests."
    detail = exc.detail
    if isinstance(detail, list | dict):
        return str(exc.default_detail)
    return str(detail)


def _details(exc: exceptions.APIException) -> Any:
    if isinstance(exc, APIError):
        return exc.details
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        return detail if isinstance(detail, dict) else {"non_field_errors": detail}
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        return {"retry_after": round(wait)}
    return None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error, handled or not, leaves in the one shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if not isinstance(exc, exceptions.APIException):
        view = context.get("view")
        logger.exception("Unhandled error in %s", type(view).__name__ if view else "API view", exc_info=exc)
        set_rollback()
        return Response(
            error_body("internal_error", "Something went wrong on our side. It has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait) + 1)  # type: ignore[attr-defined]
    set_rollback()
    return Response(error_body(_error_code(exc), _message(exc), _details(exc)), status=exc.status_code, headers=headers)


def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Catch-all for unknown URLs under the API prefixes, so they answer JSON even with DEBUG on."""
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=404)


def is_api_path(path: str) -> bool:
    return path.startswith(("/api/", "/internal/"))
