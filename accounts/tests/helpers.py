"""Assertions shared by the accounts tests."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.messages import get_messages
from rest_framework.test import APIClient

WHOAMI = "/api/v1/whoami"


def bearer(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def assert_api_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the API's one error shape, ``{"error": {"code", "message", "details"}}``, with this code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def flashed(response: Any) -> list[str]:
    """The messages a portal view flashed while handling the request."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def issued_key_in(html: str) -> str:
    """The full key the API keys page shows once, in ``<input id="new-api-key">``."""
    field = re.search(r'<input[^>]*\bid="new-api-key"[^>]*>', html)
    assert field, "the page shows no new key"
    value = re.search(r'\bvalue="([^"]+)"', field.group(0))
    assert value
    return value.group(1)
