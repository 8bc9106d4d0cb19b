"""Query strings under the API prefixes: one check before any view filters by them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse

from paas.api.errors import error_body, is_api_path


class APIQueryStringMiddleware:
    """A NUL in a query parameter (``?chat=%00``) reached PostgreSQL, which refuses it in text: a 500 from every
    filter. Django decodes query strings leniently (bad UTF-8 becomes U+FFFD), so NUL is the one character left to
    refuse. Too many parameters are refused here too, as DRF would only meet them inside a view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path) and request.META.get("QUERY_STRING"):
            refused = self._refusal(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _refusal(self, request: HttpRequest) -> JsonResponse | None:
        try:
            params = list(request.GET.lists())
        except TooManyFieldsSent:
            limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
            body = error_body("too_many_fields", f"A request may have at most {limit} fields.", {"max_fields": limit})
            return JsonResponse(body, status=400)
        details = {
            name.replace("\x00", "\ufffd"): ["Null characters are not allowed."]
            for name, values in params
            if "\x00" in name or any("\x00" in value for value in values)
        }
        if not details:
            return None
        return JsonResponse(
            error_body("validation_error", "The request is not valid; see details for each field.", details),
            status=400,
        )
