"""/api/v1/sessions: create, list (cursor paginated, only the caller's workspace), retrieve and delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings

from accounts.models import Membership, Workspace
from sessions_app.models import Desired, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.helpers import put_snapshot
from workers_app.client import session_payload
from workers_app.models import Engine
from workers_app.tests.factories import WorkerFactory
from workers_app.tests.helpers import assert_api_error, background_commands_awaited

pytestmark = pytest.mark.django_db
SESSIONS = "/api/v1/sessions"


def test_creating_a_session_without_a_worker_leaves_it_pending(
    workspace: Workspace, owner: Membership, api_client_for: Callable[..., Any]
) -> None:
    client = api_client_for(workspace).client

    response = client.post(SESSIONS, {"name": "shop", "metadata": {"crm_id": 42}}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "shop"
    assert body["engine"] == "sandbox"
    assert body["sandbox"] is True
    assert body["pairing_method"] == "qr"
    assert body["metadata"] == {"crm_id": 42}
    assert body["state"] == "pending"
    assert body["state_reason"] == "no worker available"
    assert body["account"] is None
    session = WhatsAppSession.objects.get(pk=body["id"])
    assert session.workspace == workspace
    assert session.desired == Desired.RUN


def test_creating_a_session_with_a_live_worker_starts_it_there(
    workspace: Workspace, api_client_for: Callable[..., Any]
) -> None:
    worker = WorkerFactory.create()

    response = api_client_for(workspace).client.post(SESSIONS, {"name": "shop"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["state"] == "starting"
    session = WhatsAppSession.objects.get(pk=response.json()["id"])
    assert (session.worker, session.epoch) == (worker, 1)


def test_creating_a_session_with_start_false_leaves_it_stopped(
    workspace: Workspace, api_client_for: Callable[..., Any]
) -> None:
    WorkerFactory.create()

    response = api_client_for(workspace).client.post(SESSIONS, {"name": "shop", "start": False}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["state"] == "stopped"
    assert WhatsAppSession.objects.get(pk=response.json()["id"]).worker is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "name", id="missing-name"),
        pytest.param({"name": "x" * 101}, "name", id="long-name"),
        pytest.param({"name": "shop", "engine": "neonize"}, "engine", id="engine-not-enabled"),
        pytest.param({"name": "shop", "engine": "telegram"}, "engine", id="unknown-engine"),
        pytest.param({"name": "shop", "pairing_method": "carrier-pigeon"}, "pairing_method", id="bad-pairing-method"),
        pytest.param({"name": "shop", "metadata": "not an object"}, "metadata", id="metadata-not-an-object"),
        pytest.param({"name": "shop", "metadata": {"blob": "x" * 5000}}, "metadata", id="metadata-too-big"),
    ],
)
def test_an_invalid_session_is_refused(
    workspace: Workspace, api_client_for: Callable[..., Any], body: dict[str, Any], field: str
) -> None:
    response = api_client_for(workspace).client.post(SESSIONS, body, format="json")

    error = assert_api_error(response, 400, "validation_error")
    assert field in error["details"]
    assert not WhatsAppSession.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"metadata": {"blob": "x" * 5000}}, "metadata", id="metadata-too-big"),  # create's limit
        pytest.param({"metadata": {"blob": "x" * 10_000_000}}, "metadata", id="metadata-of-10-mb"),  # was stored
        pytest.param({"metadata": {"blob": "é" * 2100}}, "metadata", id="metadata-over-4-kb-in-utf-8"),
        pytest.param({"metadata": "not an object"}, "metadata", id="metadata-not-an-object"),
        pytest.param({"name": "x" * 101}, "name", id="long-name"),
        pytest.param({"name": ""}, "name", id="empty-name"),
        pytest.param({"send_rate_per_minute": 10**9}, "send_rate_per_minute", id="rate-over-the-maximum"),
        pytest.param({"send_rate_per_minute": 0}, "send_rate_per_minute", id="rate-zero"),
    ],
)
def test_an_invalid_update_is_refused_as_at_creation_and_changes_nothing(
    workspace: Workspace, api_client_for: Callable[..., Any], body: dict[str, Any], field: str
) -> None:
    session = SessionFactory.create(workspace=workspace, name="shop", metadata={"team": "support"})
    client = api_client_for(workspace).client

    with override_settings(API_MAX_BODY_BYTES=20_000_000):  # the metadata's own limit, not the body's
        response = client.patch(f"{SESSIONS}/{session.pk}", body, format="json")

    error = assert_api_error(response, 400, "validation_error")
    assert set(error["details"]) == {field}
    session.refresh_from_db()
    assert (session.name, session.metadata) == ("shop", {"team": "support"})


def test_metadata_of_4_kb_is_taken_at_creation_and_on_update(
    workspace: Workspace, api_client_for: Callable[..., Any]
) -> None:
    client = api_client_for(workspace).client
    at_the_limit = {"blob": "x" * (4096 - len('{"blob":""}'))}  # 4,096 bytes as JSON

    created = client.post(SESSIONS, {"name": "shop", "metadata": at_the_limit, "start": False}, format="json")
    updated = client.patch(f"{SESSIONS}/{created.json()['id']}", {"metadata": at_the_limit}, format="json")

    assert (created.status_code, updated.status_code) == (201, 200)
    assert updated.json()["metadata"] == at_the_limit


@override_settings(SESSION_ENGINES=["sandbox", "neonize"])
def test_an_enabled_engine_other_than_the_default_can_be_chosen(
    workspace: Workspace, api_client_for: Callable[..., Any]
) -> None:
    response = api_client_for(workspace).client.post(SESSIONS, {"name": "real", "engine": "neonize"}, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["engine"], response.json()["sandbox"]) == ("neonize", False)


@override_settings(SESSION_ENGINES=["neonize"])
def test_the_sandbox_is_refused_where_it_is_not_enabled(
    workspace: Workspace, api_client_for: Callable[..., Any]
) -> None:
    client = api_client_for(workspace).client

    refused = client.post(SESSIONS, {"name": "shop", "engine": "sandbox"}, format="json")
    default = client.post(SESSIONS, {"name": "shop"}, format="json")

    assert_api_error(refused, 400, "validation_error")
    assert default.status_code == 201, default.content
    assert default.json()["engine"] == "neonize"


def test_the_list_holds_only_the_workspaces_sessions_newest_first_in_pages(
    workspace: Workspace, outsider: Membership, api_client_for: Callable[..., Any]
) -> None:
    ours = [SessionFactory.create(workspace=workspace, name=f"ours-{n}") for n in range(3)]
    SessionFactory.create(workspace=outsider.workspace, name="theirs")
    client = api_client_for(workspace).client

    first = client.get(SESSIONS, {"page_size": 2})
    assert first.status_code == 200, first.content
    second = client.get(first.json()["next"])

    assert first.json()["previous"] is None
    assert [s["name"] for s in first.json()["results"]] == ["ours-2", "ours-1"]
    assert second.status_code == 200, second.content
    assert [s["name"] for s in second.json()["results"]] == ["ours-0"]
    assert second.json()["next"] is None
    assert second.json()["previous"] is not None
    assert {s["id"] for s in first.json()["results"] + second.json()["results"]} == {str(s.pk) for s in ours}


def test_the_outsider_lists_only_their_own_sessions(
    workspace: Workspace, outsider: Membership, api_client_for: Callable[..., Any]
) -> None:
    SessionFactory.create(workspace=workspace)
    theirs = SessionFactory.create(workspace=outsider.workspace)

    response = api_client_for(outsider.workspace).client.get(SESSIONS)

    assert [s["id"] for s in response.json()["results"]] == [str(theirs.pk)]


def test_the_list_page_size_is_bounded(workspace: Workspace, api_client_for: Callable[..., Any]) -> None:
    SessionFactory.create_batch(3, workspace=workspace)

    response = api_client_for(workspace).client.get(SESSIONS, {"page_size": 1})

    assert len(response.json()["results"]) == 1
    assert response.json()["next"] is not None


def test_a_session_is_retrieved_with_its_account(workspace: Workspace, api_client_for: Callable[..., Any]) -> None:
    session = SessionFactory.create(
        workspace=workspace,
        state=SessionState.CONNECTED,
        phone="+15550100777",
        jid="15550100777:3@s.whatsapp.net",
        push_name="Ann",
    )

    response = api_client_for(workspace).client.get(f"{SESSIONS}/{session.pk}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["state"]) == (str(session.pk), "connected")
    assert body["account"]["phone"] == "+15550100777"
    assert body["account"]["jid"] == "15550100777:3@s.whatsapp.net"
    assert body["account"]["push_name"] == "Ann"


def test_an_unknown_session_is_not_found(workspace: Workspace, api_client_for: Callable[..., Any]) -> None:
    response = api_client_for(workspace).client.get(f"{SESSIONS}/00000000-0000-4000-8000-000000000000")

    assert_api_error(response, 404, "not_found")


def test_deleting_a_session_removes_it_and_its_snapshot(
    workspace: Workspace, api_client_for: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    session = SessionFactory.create(workspace=workspace, state=SessionState.CONNECTED, worker=WorkerFactory.create())
    kept = SessionFactory.create(workspace=workspace)
    path = put_snapshot(session)
    kept_path = put_snapshot(kept)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_client_for(workspace).client.delete(f"{SESSIONS}/{session.pk}")

    assert response.status_code == 204, response.content
    assert callbacks
    assert not WhatsAppSession.objects.filter(pk=session.pk).exists()
    assert not default_storage.exists(path)
    assert default_storage.exists(kept_path)


def test_the_snapshot_is_deleted_only_once_the_deletion_commits(
    workspace: Workspace, api_client_for: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    session = SessionFactory.create(workspace=workspace, engine=Engine.SANDBOX)
    path = put_snapshot(session)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client_for(workspace).client.delete(f"{SESSIONS}/{session.pk}")
        assert default_storage.exists(path)

    assert response.status_code == 204
    for callback in callbacks:
        callback()
    assert not default_storage.exists(path)


@pytest.mark.parametrize(
    ("engine", "phone", "stored"),
    [("sandbox", "+1 555 010 7001", "15550107001"), ("neonize", "+49 151 12345678", "4915112345678")],
)
def test_a_session_created_for_code_pairing_keeps_its_number_for_the_worker(
    workspace: Workspace, api_client_for: Callable[..., Any], engine: str, phone: str, stored: str
) -> None:
    client = api_client_for(workspace).client
    body = {"name": "shop", "engine": engine, "pairing_method": "code", "pairing_phone": phone}

    with override_settings(SESSION_ENGINES=["sandbox", "neonize"]):
        response = client.post(SESSIONS, body, format="json")

    assert response.status_code == 201, response.content
    session = WhatsAppSession.objects.get(pk=response.json()["id"])
    assert (session.pairing_method, session.pairing_phone) == ("code", stored)
    assert session_payload(session)["pairing_phone"] == stored  # what the worker is started with


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"pairing_phone": "+4915112345678"}, id="without-code-pairing"),
        pytest.param({"pairing_method": "code", "pairing_phone": "12"}, id="not-a-number"),
        pytest.param(
            {"pairing_method": "code", "pairing_phone": "+1 555 010 7001", "engine": "neonize"},
            id="a-sandbox-number-for-real-whatsapp",
        ),
    ],
)
def test_a_bad_pairing_phone_at_creation_is_refused_and_nothing_is_stored(
    workspace: Workspace, api_client_for: Callable[..., Any], body: dict[str, Any]
) -> None:
    client = api_client_for(workspace).client

    with override_settings(SESSION_ENGINES=["sandbox", "neonize"]):
        response = client.post(SESSIONS, {"name": "shop", **body}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "pairing_phone" in response.json()["error"]["details"]
    assert not WhatsAppSession.objects.exists()


@pytest.mark.parametrize(
    ("state", "phone", "command"),
    [
        (SessionState.CONNECTED, "+15550100001", "logout"),
        (SessionState.RECONNECTING, "+15550100001", "logout"),
        (SessionState.SCAN_QR, "", "forget"),
        (SessionState.FAILED, "+15550100001", "forget"),
    ],
)
def test_deleting_a_linked_online_session_logs_it_out_at_whatsapp_and_any_other_is_forgotten(
    workspace: Workspace, api_client_for: Callable[..., Any], django_capture_on_commit_callbacks: Any,
    state: str, phone: str, command: str,
) -> None:  # fmt: skip
    session = SessionFactory.create(workspace=workspace, state=state, phone=phone, worker=WorkerFactory.create())

    # The command goes out from a background thread once the callbacks have run: wait for that thread, not a time.
    with mock.patch("workers_app.client.call_worker") as call, background_commands_awaited(), \
            django_capture_on_commit_callbacks(execute=True):  # fmt: skip
        response = api_client_for(workspace).client.delete(f"{SESSIONS}/{session.pk}")

    assert response.status_code == 204
    [(_, path, _), *_] = [c.args for c in call.call_args_list]
    assert path == f"/sessions/{session.pk}/{command}"
