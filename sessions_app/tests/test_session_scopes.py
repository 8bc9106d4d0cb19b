"""Reading sessions needs sessions:read, changing them sessions:write; a key without the scope gets 403 missing_scope
and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Scope, Workspace
from sessions_app.models import SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from workers_app.tests.factories import WorkerFactory
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db
READ, WRITE = Scope.SESSIONS_READ, Scope.SESSIONS_WRITE

ENDPOINTS = [
    pytest.param("get", "", None, READ, id="list"),
    pytest.param("post", "", {"name": "new"}, WRITE, id="create"),
    pytest.param("get", "/{pk}", None, READ, id="retrieve"),
    pytest.param("delete", "/{pk}", None, WRITE, id="delete"),
    pytest.param("post", "/{pk}/start", {}, WRITE, id="start"),
    pytest.param("post", "/{pk}/stop", {}, WRITE, id="stop"),
    pytest.param("post", "/{pk}/restart", {}, WRITE, id="restart"),
    pytest.param("post", "/{pk}/logout", {}, WRITE, id="logout"),
    pytest.param("get", "/{pk}/qr", None, READ, id="qr"),
    pytest.param("get", "/{pk}/qr.png", None, READ, id="qr.png"),
    pytest.param("get", "/{pk}/qr.svg", None, READ, id="qr.svg"),
    pytest.param("post", "/{pk}/pairing-code", {"phone": "+4915112345678"}, WRITE, id="pairing-code"),
    pytest.param("post", "/{pk}/sandbox/scan", {}, WRITE, id="sandbox-scan"),
]


def call(client: APIClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    if method == "get":
        return client.get(path)
    if method == "delete":
        return client.delete(path)
    return client.post(path, body, format="json")


@pytest.mark.parametrize(("method", "suffix", "body", "scope"), ENDPOINTS)
def test_a_key_without_the_scope_is_refused(
    workspace: Workspace,
    api_client_for: Callable[..., Any],
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
    scope: str,
) -> None:
    session = SessionFactory.create(
        workspace=workspace, worker=WorkerFactory.create(), state=SessionState.SCAN_QR, qr_code="2@qr", phone="+1555"
    )
    client = api_client_for(workspace, [s for s in Scope.values if s != scope]).client
    before = list(WhatsAppSession.objects.values())

    response = call(client, method, "/api/v1/sessions" + suffix.format(pk=session.pk), body)

    error = assert_api_error(response, 403, "missing_scope")
    assert scope in error["message"]
    assert list(WhatsAppSession.objects.values()) == before


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        pytest.param([READ], 200, id="read"),
        pytest.param([WRITE], 403, id="write-only"),
        pytest.param([Scope.MESSAGES_SEND, Scope.MESSAGES_READ], 403, id="unrelated"),
    ],
)
def test_listing_needs_the_read_scope(
    workspace: Workspace, api_client_for: Callable[..., Any], scopes: list[str], expected: int
) -> None:
    response = api_client_for(workspace, scopes).client.get("/api/v1/sessions")

    assert response.status_code == expected, response.content


def test_a_write_only_key_can_create_a_session(workspace: Workspace, api_client_for: Callable[..., Any]) -> None:
    response = api_client_for(workspace, [WRITE]).client.post("/api/v1/sessions", {"name": "shop"}, format="json")

    assert response.status_code == 201, response.content
