"""``@no_store``: the responses of a view that shows a secret (a new API key, a webhook signing secret, a worker's
token) are never kept by a browser's cache or a proxy.

It is Django's ``never_cache`` (``Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private`` and an
``Expires`` in the past), on a view function or on every response of a class-based view, Django's or DRF's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

V = TypeVar("V", bound=Callable[..., Any])


def no_store(view: V) -> V:
    if isinstance(view, type):
        # dispatch() returns every answer of the view, its errors included: a refusal must not be cached either.
        decorated: V = method_decorator(never_cache, name="dispatch")(view)
        return decorated
    return never_cache(view)


# Pages of views we do not own that show a secret: allauth's two-factor pages (the TOTP secret while it is set up,
# the recovery codes).
NO_STORE_PATH_PREFIXES = ("/accounts/2fa/",)


class NoStorePathsMiddleware:
    """``no_store`` for the views under ``NO_STORE_PATH_PREFIXES``, which cannot be decorated where they are defined."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(NO_STORE_PATH_PREFIXES):
            add_never_cache_headers(response)
        return response
