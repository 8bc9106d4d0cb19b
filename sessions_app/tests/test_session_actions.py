"""POST start / stop / restart / logout: what each does, and the 409 with a stable code when the state forbids it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from accounts.models import Workspace
from sessions_app.models import Desired, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.helpers import put_snapshot
from workers_app.tests.factories import WorkerFactory
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db


def action(client: APIClient, session: WhatsAppSession, name: str) -> Any:
    return client.post(f"/api/v1/sessions/{session.pk}/{name}", format="json")


def snapshot_of(session: WhatsAppSession) -> dict[str, Any]:
    return dict(WhatsAppSession.objects.filter(pk=session.pk).values().get())


@pytest.mark.parametrize(
    ("name", "fields", "code"),
    [
        pytest.param(
            "start", {"desired": Desired.RUN, "state": SessionState.CONNECTED}, "session_running", id="start-running"
        ),
        pytest.param(
            "start", {"desired": Desired.RUN, "state": SessionState.PENDING}, "session_running", id="start-pending"
        ),
        pytest.param(
            "stop", {"desired": Desired.STOP, "state": SessionState.STOPPED}, "session_not_running", id="stop-stopped"
        ),
        pytest.param(
            "stop",
            {"desired": Desired.STOP, "state": SessionState.LOGGED_OUT},
            "session_not_running",
            id="stop-logged-out",
        ),
        pytest.param(
            "logout",
            {"desired": Desired.RUN, "state": SessionState.SCAN_QR},
            "session_not_linked",
            id="logout-unlinked",
        ),
        pytest.param(
            "restart",
            {"desired": Desired.STOP, "state": SessionState.LOGGED_OUT},
            "session_logged_out",
            id="restart-logged-out",
        ),
    ],
)
def test_an_action_the_state_does_not_allow_is_a_conflict(
    workspace: Workspace, client: APIClient, name: str, fields: dict[str, Any], code: str
) -> None:
    WorkerFactory.create()
    session = SessionFactory.create(workspace=workspace, worker=None, epoch=3, **fields)
    before = snapshot_of(session)

    response = action(client, session, name)

    assert_api_error(response, 409, code)
    assert snapshot_of(session) == before


def test_starting_a_stopped_session_places_it_under_a_new_epoch(workspace: Workspace, client: APIClient) -> None:
    worker = WorkerFactory.create()
    session = SessionFactory.create(
        workspace=workspace, worker=None, epoch=3, desired=Desired.STOP, state=SessionState.STOPPED
    )

    response = action(client, session, "start")

    assert response.status_code == 202, response.content
    assert response.json()["state"] == "starting"
    started = WhatsAppSession.objects.get(pk=session.pk)
    assert (started.desired, started.worker, started.epoch) == (Desired.RUN, worker, 4)


def test_starting_a_stopped_session_without_a_worker_leaves_it_pending(workspace: Workspace, client: APIClient) -> None:
    session = SessionFactory.create(workspace=workspace, desired=Desired.STOP, state=SessionState.STOPPED)

    response = action(client, session, "start")

    assert response.status_code == 202, response.content
    assert (response.json()["state"], response.json()["state_reason"]) == ("pending", "no worker available")


def test_starting_a_logged_out_session_pairs_it_again(workspace: Workspace, client: APIClient) -> None:
    worker = WorkerFactory.create()
    session = SessionFactory.create(workspace=workspace, desired=Desired.STOP, state=SessionState.LOGGED_OUT)

    response = action(client, session, "start")

    assert response.status_code == 202, response.content
    assert WhatsAppSession.objects.get(pk=session.pk).worker == worker


def test_stopping_a_session_without_a_worker_stops_it_at_once(workspace: Workspace, client: APIClient) -> None:
    session = SessionFactory.create(workspace=workspace, worker=None, state=SessionState.PENDING)

    response = action(client, session, "stop")

    assert response.status_code == 202, response.content
    assert response.json()["state"] == "stopped"
    assert WhatsAppSession.objects.get(pk=session.pk).desired == Desired.STOP


def test_stopping_a_session_on_a_worker_waits_for_the_worker_to_confirm(
    workspace: Workspace, client: APIClient
) -> None:
    worker = WorkerFactory.create()
    session = SessionFactory.create(workspace=workspace, worker=worker, epoch=2, state=SessionState.CONNECTED)

    response = action(client, session, "stop")

    assert response.status_code == 202, response.content
    stopping = WhatsAppSession.objects.get(pk=session.pk)
    assert (stopping.desired, stopping.state, stopping.worker) == (Desired.STOP, SessionState.CONNECTED, worker)


def test_restarting_a_session_assigns_it_again_under_a_new_epoch(workspace: Workspace, client: APIClient) -> None:
    worker = WorkerFactory.create()
    session = SessionFactory.create(workspace=workspace, worker=worker, epoch=5, state=SessionState.CONNECTED)

    response = action(client, session, "restart")

    assert response.status_code == 202, response.content
    restarted = WhatsAppSession.objects.get(pk=session.pk)
    assert (restarted.worker, restarted.epoch, restarted.state) == (worker, 6, SessionState.STARTING)


def test_restarting_a_stopped_session_runs_it_again(workspace: Workspace, client: APIClient) -> None:
    WorkerFactory.create()
    session = SessionFactory.create(workspace=workspace, desired=Desired.STOP, state=SessionState.STOPPED)

    response = action(client, session, "restart")

    assert response.status_code == 202, response.content
    assert WhatsAppSession.objects.get(pk=session.pk).desired == Desired.RUN


def test_logging_out_a_linked_session_clears_the_account_and_the_snapshot(
    workspace: Workspace, client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    session = SessionFactory.create(
        workspace=workspace,
        worker=WorkerFactory.create(),
        state=SessionState.CONNECTED,
        phone="+15550100777",
        jid="15550100777:1@s.whatsapp.net",
        push_name="Ann",
        has_snapshot=True,
    )
    path = put_snapshot(session)

    with django_capture_on_commit_callbacks(execute=True):
        response = action(client, session, "logout")

    assert response.status_code == 202, response.content
    assert response.json()["state"] == "logged_out"
    assert response.json()["account"] is None
    gone = WhatsAppSession.objects.get(pk=session.pk)
    assert (gone.phone, gone.jid, gone.push_name, gone.has_snapshot, gone.desired) == ("", "", "", False, Desired.STOP)
    assert not default_storage.exists(path)
