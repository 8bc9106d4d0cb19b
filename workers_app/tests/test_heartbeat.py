"""POST /internal/v1/heartbeat: the worker reports what it runs and stores; the answer is what it should run and
forget. Malformed reports are refused without touching the worker's row."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.conf import settings

from sessions_app.models import Desired, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from workers_app.models import Engine, Worker, WorkerState
from workers_app.services.enrollment import enrollment_token_create
from workers_app.tests.factories import WorkerFactory, silent_since, worker_with_token
from workers_app.tests.helpers import assert_api_error, worker_client

pytestmark = pytest.mark.django_db
HEARTBEAT = "/internal/v1/heartbeat"


def heartbeat(
    raw: str, *, load: int = 0, sessions: list[dict[str, Any]] | None = None, stored: list[str] | None = None
) -> dict[str, Any]:
    body = {"load": load, "sessions": sessions or [], "stored": stored or []}
    response = worker_client(raw).post(HEARTBEAT, body, format="json")
    assert response.status_code == 200, response.content
    answer: dict[str, Any] = response.json()
    return answer


RUNNING = {"id": "6f1c1b9e-3f43-4c36-9a39-2a4f7d3f0c11", "epoch": 1, "state": "connected"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"sessions": [], "stored": []}, "load", id="missing-load"),
        pytest.param({"load": -1, "sessions": [], "stored": []}, "load", id="negative-load"),
        pytest.param({"load": "many", "sessions": [], "stored": []}, "load", id="load-not-a-number"),
        pytest.param({"load": 2**31, "sessions": [], "stored": []}, "load", id="load-beyond-the-column"),  # was a 500
        pytest.param({"load": 1, "stored": []}, "sessions", id="missing-sessions"),
        pytest.param(
            {"load": 1, "sessions": [{**RUNNING, "id": "nope"}], "stored": []}, "sessions", id="bad-session-id"
        ),
        pytest.param({"load": 1, "sessions": [{**RUNNING, "epoch": -3}]}, "sessions", id="negative-epoch"),
        pytest.param({"load": 1, "sessions": [{**RUNNING, "state": "dancing"}]}, "sessions", id="unknown-state"),
        pytest.param({"load": 1, "sessions": "all of them"}, "sessions", id="sessions-not-a-list"),
        pytest.param({"load": 1, "sessions": [], "stored": "6f1c1b9e"}, "stored", id="stored-not-a-list"),
        pytest.param({"load": 1, "sessions": [], "stored": {"a": 1}}, "stored", id="stored-an-object"),
        pytest.param({"load": 1, "sessions": [], "stored": ["../../etc"]}, "stored", id="stored-bad-id"),
    ],
)
def test_a_malformed_heartbeat_is_refused_and_leaves_the_worker_unchanged(body: dict[str, Any], field: str) -> None:
    worker, raw = worker_with_token(state=WorkerState.DEAD, load=7, last_heartbeat_at=silent_since(300))
    pending = SessionFactory.create(worker=None)
    before = Worker.objects.filter(pk=worker.pk).values().get()

    response = worker_client(raw).post(HEARTBEAT, body, format="json")

    error = assert_api_error(response, 400, "validation_error")
    assert field in error["details"]
    assert Worker.objects.filter(pk=worker.pk).values().get() == before
    pending.refresh_from_db()
    assert pending.worker is None


def test_a_heartbeat_that_is_not_json_is_a_parse_error() -> None:
    worker, raw = worker_with_token(load=7)

    response = worker_client(raw).post(HEARTBEAT, "{not json", content_type="application/json")

    assert_api_error(response, 400, "parse_error")
    worker.refresh_from_db()
    assert worker.load == 7


def test_a_heartbeat_records_the_load_and_the_time() -> None:
    worker, raw = worker_with_token(load=0, last_heartbeat_at=silent_since(20))

    answer = heartbeat(raw, load=3)

    worker.refresh_from_db()
    assert worker.load == 3
    assert worker.last_heartbeat_at is not None
    assert worker.last_heartbeat_at > silent_since(5)
    assert answer["heartbeat_interval"] == settings.WORKER_HEARTBEAT_SECONDS


def test_the_answer_lists_the_sessions_the_worker_should_run_with_their_epochs() -> None:
    worker, raw = worker_with_token()
    other = WorkerFactory.create()
    first = SessionFactory.create(worker=worker, epoch=4, state=SessionState.CONNECTED)
    second = SessionFactory.create(
        worker=worker, epoch=1, state=SessionState.STARTING, pairing_method="code", pairing_phone="4915112345678"
    )
    SessionFactory.create(worker=worker, epoch=2, desired=Desired.STOP, state=SessionState.CONNECTED)  # stopping
    SessionFactory.create(worker=other, epoch=9, state=SessionState.CONNECTED)
    SessionFactory.create(worker=None, desired=Desired.STOP, state=SessionState.STOPPED)

    answer = heartbeat(raw, sessions=[{"id": str(first.pk), "epoch": 3, "state": "connected"}])

    assert {item["id"]: item["epoch"] for item in answer["sessions"]} == {str(first.pk): 4, str(second.pk): 1}
    by_id = {item["id"]: item for item in answer["sessions"]}
    assert by_id[str(second.pk)]["pairing_method"] == "code"
    assert by_id[str(second.pk)]["pairing_phone"] == "4915112345678"
    assert by_id[str(first.pk)]["engine"] == "sandbox"


def test_forget_lists_stores_of_deleted_logged_out_and_moved_sessions_only() -> None:
    worker, raw = worker_with_token()
    other = WorkerFactory.create()
    deleted = str(uuid.uuid4())
    logged_out = SessionFactory.create(worker=None, desired=Desired.STOP, state=SessionState.LOGGED_OUT)
    moved = SessionFactory.create(worker=other, epoch=3, state=SessionState.CONNECTED)
    stopped = SessionFactory.create(worker=None, desired=Desired.STOP, state=SessionState.STOPPED)
    failed = SessionFactory.create(worker=None, desired=Desired.STOP, state=SessionState.FAILED)
    own = SessionFactory.create(worker=worker, epoch=1, state=SessionState.CONNECTED)
    waiting = SessionFactory.create(worker=None, engine=Engine.NEONIZE, state=SessionState.PENDING)
    stored = [deleted, str(logged_out.pk), str(moved.pk), str(stopped.pk), str(failed.pk), str(own.pk), str(waiting.pk)]

    answer = heartbeat(raw, stored=stored)

    assert sorted(answer["forget"]) == sorted([deleted, str(logged_out.pk), str(moved.pk)])


def test_forget_is_empty_when_nothing_is_stored() -> None:
    _, raw = worker_with_token()
    SessionFactory.create(worker=None, desired=Desired.STOP, state=SessionState.LOGGED_OUT)

    assert heartbeat(raw)["forget"] == []


def test_a_dead_worker_that_heartbeats_is_active_again() -> None:
    worker, raw = worker_with_token(state=WorkerState.DEAD, last_heartbeat_at=silent_since(600))

    heartbeat(raw)

    worker.refresh_from_db()
    assert worker.state == WorkerState.ACTIVE


def test_a_draining_worker_stays_draining_and_gets_no_new_sessions() -> None:
    worker, raw = worker_with_token(state=WorkerState.DRAINING)
    pending = SessionFactory.create(worker=None, state=SessionState.PENDING)

    answer = heartbeat(raw)

    worker.refresh_from_db()
    pending.refresh_from_db()
    assert worker.state == WorkerState.DRAINING
    assert pending.worker is None
    assert answer["sessions"] == []


def test_pending_sessions_are_placed_on_a_worker_that_heartbeats() -> None:
    worker, raw = worker_with_token(engine=Engine.SANDBOX)
    pending = SessionFactory.create(worker=None, state=SessionState.PENDING, state_reason="no worker available")
    other_engine = SessionFactory.create(worker=None, engine=Engine.NEONIZE, state=SessionState.PENDING)
    parked = SessionFactory.create(worker=None, desired=Desired.STOP, state=SessionState.STOPPED)

    answer = heartbeat(raw)

    pending.refresh_from_db()
    assert pending.worker == worker
    assert pending.state == SessionState.STARTING
    assert pending.epoch == 1
    assert answer["sessions"] == [
        {"id": str(pending.pk), "epoch": 1, "engine": "sandbox", "pairing_method": "qr", "pairing_phone": ""}
    ]
    other_engine.refresh_from_db()
    parked.refresh_from_db()
    assert other_engine.worker is None
    assert parked.worker is None
    assert parked.state == SessionState.STOPPED


def test_pending_sessions_are_placed_by_the_first_heartbeat_of_a_worker_that_registers() -> None:
    pending = SessionFactory.create(worker=None, state=SessionState.PENDING)
    enrollment = enrollment_token_create(name="pool")
    body = {
        "enrollment_token": enrollment.raw,
        "name": "fresh",
        "advertise_url": "http://127.0.0.1:9",
        "engine": "sandbox",
        "capacity": 3,
    }

    response = worker_client().post("/internal/v1/workers/register", body, format="json")

    assert response.status_code == 201, response.content
    pending.refresh_from_db()
    assert pending.worker is None  # registration answers at once; placing is the heartbeat's work
    heartbeat(response.json()["worker_token"])
    pending.refresh_from_db()
    assert pending.worker is not None
    assert str(pending.worker.pk) == response.json()["worker_id"]
    assert pending.state == SessionState.STARTING
    assert pending.epoch == 1


def test_pending_sessions_are_placed_on_a_worker_that_re_registers_and_heartbeats() -> None:
    worker, raw = worker_with_token(state=WorkerState.DEAD, last_heartbeat_at=silent_since(600))
    pending = SessionFactory.create(worker=None, state=SessionState.PENDING)
    body = {"name": worker.name, "advertise_url": "http://127.0.0.1:9", "engine": "sandbox", "capacity": 3}

    response = worker_client(raw).post("/internal/v1/workers/register", body, format="json")
    heartbeat(raw)

    assert response.status_code == 200, response.content
    pending.refresh_from_db()
    assert pending.worker == worker


def test_a_worker_gets_no_more_pending_sessions_than_its_capacity() -> None:
    worker, raw = worker_with_token(capacity=2)
    pending = SessionFactory.create_batch(3, worker=None, state=SessionState.PENDING)

    answer = heartbeat(raw)

    assert len(answer["sessions"]) == 2
    placed = [s for s in pending if WhatsAppSession.objects.get(pk=s.pk).worker_id == worker.pk]
    assert len(placed) == 2
