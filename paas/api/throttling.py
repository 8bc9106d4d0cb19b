"""Request throttling on the cache (Redis in production): per API key, or per client address before auth."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:  # DRF's views import the permission and throttle settings: no run-time import back
    from rest_framework.request import Request
    from rest_framework.views import APIView


class APIClientRateThrottle(SimpleRateThrottle):
    scope = "api_client"

    def get_rate(self) -> str:
        # Read at request time, so the limit follows settings.API_RATE_LIMIT (and tests can change it).
        rate: str = settings.API_RATE_LIMIT
        return rate

    def get_cache_key(self, request: Request, view: APIView) -> str:
        key_id = getattr(request.auth, "pk", None)
        ident = f"key:{key_id}" if key_id is not None else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
