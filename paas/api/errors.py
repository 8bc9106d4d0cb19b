"""One JSON error shape for the whole API: ``{"error": {"code", "message", "details"}}``.

DRF's exceptions, Django's 404 and permission errors, and unhandled exceptions all leave the API in this shape, with a
stable machine-readable ``code`` that clients can switch on and a ``message`` a person can read.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

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
        wait = retry_after(exc)
        return f"Too many requests. Try again in {wait} seconds." if wait is not None else "Too many requests."
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
    wait = retry_after(exc)
    if wait is not None:
        return {"retry_after": wait}
    return None


def retry_after(exc: exceptions.APIException) -> int | None:
    """A 429's seconds to wait, the same in Retry-After, details and message: whole, at least 1 (DRF rounds up)."""
    wait = getattr(exc, "wait", None)
    if not isinstance(exc, exceptions.Throttled) or wait is None:
        return None
    return max(1, math.ceil(wait))


def body_limit(view: Any) -> int:
    """The largest body ``view`` takes (paas/api/parsers.py enforces it while reading)."""
    if getattr(view, "large_bodies", False):
        return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return int(settings.API_MAX_BODY_BYTES)


def too_large(limit: int) -> APIError:
    return APIError(
        "request_too_large", f"The request body is larger than {limit} bytes.", status_code=413,
        details={"max_bytes": limit},
    )  # fmt: skip


def _refused_request(exc: SuspiciousOperation, view: Any) -> APIError:
    """What Django refuses while reading a request (DRF reads it inside the view) is the client's error, not ours."""
    if isinstance(exc, RequestDataTooBig):
        return too_large(body_limit(view))
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return APIError("too_many_fields", f"A request may have at most {limit} fields.", details={"max_fields": limit})
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return APIError("too_many_files", f"A request may have at most {limit} files.", details={"max_files": limit})
    # Logged as Django logs the SuspiciousOperations it answers 400 to itself.
    logging.getLogger(f"django.security.{type(exc).__name__}").warning("%s", exc)
    return APIError("bad_request", "The request is malformed.")


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error, handled or not, leaves in the one shape."""
    # Imported here: rest_framework.views loads the parsers (paas/api/parsers.py), which import this module.
    from rest_framework.views import set_rollback

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, SuspiciousOperation):
        exc = _refused_request(exc, context.get("view"))

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
    wait = retry_after(exc)
    if wait is not None:
        headers["Retry-After"] = str(wait)
    set_rollback()
    return Response(error_body(_error_code(exc), _message(exc), _details(exc)), status=exc.status_code, headers=headers)


@csrf_exempt
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Catch-all for unknown URLs under the API prefixes (and ids that are not UUIDs), so they answer JSON even with
    DEBUG on, for every method: without csrf_exempt a POST got the CSRF failure page (403 HTML) instead."""
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=404)


def is_api_path(path: str) -> bool:
    return path.startswith(("/api/", "/internal/"))
