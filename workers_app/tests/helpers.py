"""Assertions and clients shared by the worker API tests (and the sessions tests)."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient


def assert_api_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the API's one error shape, ``{"error": {"code", "message", "details"}}``, with this code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return dict(body["error"])


def worker_client(raw_token: str | None = None) -> APIClient:
    """A client of /internal/v1/, authenticated as the worker holding ``raw_token`` (anonymous without one)."""
    client = APIClient()
    if raw_token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    return client
