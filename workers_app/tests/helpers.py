"""Assertions and clients shared by the worker API tests (and the sessions tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any
from unittest import mock

from rest_framework.test import APIClient

from workers_app import client as worker_client_module


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


@contextmanager
def background_commands_awaited() -> Iterator[None]:
    """On leaving, wait until every command handed to the background meanwhile (``lifecycle_after_commit``: its
    on-commit callback submits it to a thread pool) has been sent, so the test can look at what went out."""
    sent: list[Future[None]] = []
    submit = worker_client_module._background.submit

    def tracked(send: Callable[[], None]) -> Future[None]:
        sent.append(submit(send))
        return sent[-1]

    with mock.patch.object(worker_client_module._background, "submit", tracked):
        yield
    for future in sent:
        future.result(timeout=10)  # returns as soon as the command is out; the timeout only ends a hang
