"""Another workspace's session is not found on every endpoint: 404 not_found, exactly as for an id that does not exist,
and nothing happens to it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from accounts.models import Membership, Workspace
from sessions_app.models import SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.helpers import put_snapshot
from workers_app.tests.factories import WorkerFactory
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    pytest.param("get", "", None, id="retrieve"),
    pytest.param("delete", "", None, id="delete"),
    pytest.param("post", "/start", {}, id="start"),
    pytest.param("post", "/stop", {}, id="stop"),
    pytest.param("post", "/restart", {}, id="restart"),
    pytest.param("post", "/logout", {}, id="logout"),
    pytest.param("get", "/qr", None, id="qr"),
    pytest.param("get", "/qr.png", None, id="qr.png"),
    pytest.param("get", "/qr.svg", None, id="qr.svg"),
    pytest.param("post", "/pairing-code", {"phone": "+4915112345678"}, id="pairing-code"),
    pytest.param("post", "/sandbox/scan", {"phone": "+15550100777"}, id="sandbox-scan"),
]


def call(client: APIClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    if method == "get":
        return client.get(path)
    if method == "delete":
        return client.delete(path)
    return client.post(path, body, format="json")


@pytest.fixture
def their_session(workspace: Workspace) -> WhatsAppSession:
    """A session of ``workspace`` that every endpoint could act on: on a worker, showing a QR code, linked."""
    return SessionFactory.create(
        workspace=workspace,
        worker=WorkerFactory.create(),
        epoch=2,
        state=SessionState.SCAN_QR,
        qr_code="2@secret-qr",
        phone="+15550100777",
    )


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS)
def test_the_outsider_gets_not_found_for_another_workspaces_session(
    their_session: WhatsAppSession,
    outsider: Membership,
    api_client_for: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    client = api_client_for(outsider.workspace).client
    snapshot = put_snapshot(their_session)
    before = WhatsAppSession.objects.filter(pk=their_session.pk).values().get()

    with django_capture_on_commit_callbacks(execute=True):
        response = call(client, method, f"/api/v1/sessions/{their_session.pk}{suffix}", body)
    unknown = call(client, method, f"/api/v1/sessions/{uuid.uuid4()}{suffix}", body)

    error = assert_api_error(response, 404, "not_found")
    assert error == assert_api_error(unknown, 404, "not_found")
    assert b"secret-qr" not in response.content
    assert WhatsAppSession.objects.filter(pk=their_session.pk).values().get() == before
    assert default_storage.exists(snapshot)


@pytest.mark.parametrize(("method", "suffix", "body"), [e for e in ENDPOINTS if e.values[0] == "get"])
def test_the_owning_workspace_reaches_the_same_session(
    their_session: WhatsAppSession,
    owner: Membership,
    api_client_for: Callable[..., Any],
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    response = call(
        api_client_for(owner.workspace).client, method, f"/api/v1/sessions/{their_session.pk}{suffix}", body
    )

    assert response.status_code == 200, response.content
