"""API-key authentication: ``Authorization: Bearer <key>``.

This class only reads the header; resolving a key to its workspace and scopes is the accounts app's job
(``settings.API_KEY_RESOLVER``), so the conventions here stay independent of how keys are stored.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

KeyResolver = Callable[[str], tuple[Any, Any]]


@cache
def _resolver(path: str) -> KeyResolver:
    resolver: KeyResolver = import_string(path)
    return resolver


class APIKeyAuthentication(BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword.encode():
            raise AuthenticationFailed("Use the header 'Authorization: Bearer <API key>'.", code="malformed_api_key")
        if len(header) != 2:
            raise AuthenticationFailed(
                "The Authorization header must be 'Bearer' followed by one API key.", code="malformed_api_key"
            )
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("The API key contains characters keys never have.", code="malformed_api_key")
        return _resolver(settings.API_KEY_RESOLVER)(raw_key)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
