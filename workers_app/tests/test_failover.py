"""Failover: silent workers are swept dead, and a dead, shut-down or revoked worker's sessions move to a survivor
under a new epoch (or wait as pending when there is none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from sessions_app.models import Desired, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from workers_app.models import Worker, WorkerState
from workers_app.services.enrollment import worker_revoke, worker_shutdown
from workers_app.services.placement import NO_WORKER_REASON, sweep_dead_workers
from workers_app.tests.factories import WorkerFactory, silent_since, worker_with_token
from workers_app.tests.helpers import worker_client

pytestmark = pytest.mark.django_db


def silent_worker(**fields: Any) -> Worker:
    return WorkerFactory.create(last_heartbeat_at=silent_since(settings.WORKER_DEAD_AFTER_SECONDS + 5), **fields)


def reloaded(session: WhatsAppSession) -> WhatsAppSession:
    return WhatsAppSession.objects.get(pk=session.pk)


def test_the_sweep_marks_only_silent_workers_dead() -> None:
    silent_worker(name="silent")
    silent_worker(name="silent-draining", state=WorkerState.DRAINING)
    WorkerFactory.create(name="recent", last_heartbeat_at=silent_since(settings.WORKER_DEAD_AFTER_SECONDS - 5))
    silent_worker(name="revoked", state=WorkerState.REVOKED)

    dead = sweep_dead_workers()

    assert sorted(dead) == ["silent", "silent-draining"]
    states = dict(Worker.objects.values_list("name", "state"))
    assert states == {
        "silent": WorkerState.DEAD,
        "silent-draining": WorkerState.DEAD,
        "recent": WorkerState.ACTIVE,
        "revoked": WorkerState.REVOKED,
    }


def test_the_sweep_does_nothing_twice() -> None:
    silent_worker(name="silent")

    assert sweep_dead_workers() == ["silent"]
    assert sweep_dead_workers() == []


def test_a_dead_workers_running_sessions_move_to_a_survivor_under_a_new_epoch() -> None:
    lost = silent_worker(name="lost")
    survivor = WorkerFactory.create(name="survivor")
    connected = SessionFactory.create(worker=lost, epoch=4, state=SessionState.CONNECTED, phone="+15550100001")
    pairing = SessionFactory.create(worker=lost, epoch=1, state=SessionState.SCAN_QR, qr_code="2@old")

    sweep_dead_workers()

    for session, epoch in ((connected, 5), (pairing, 2)):
        moved = reloaded(session)
        assert moved.worker == survivor
        assert moved.epoch == epoch
        assert moved.state == SessionState.STARTING
        assert moved.desired == Desired.RUN
        assert moved.qr_code == ""
    assert reloaded(connected).phone == "+15550100001"


def test_a_dead_workers_stopping_and_logged_out_sessions_are_parked_not_moved() -> None:
    lost = silent_worker()
    WorkerFactory.create(name="survivor")
    stopping = SessionFactory.create(worker=lost, epoch=2, desired=Desired.STOP, state=SessionState.CONNECTED)
    logged_out = SessionFactory.create(worker=lost, epoch=3, desired=Desired.STOP, state=SessionState.LOGGED_OUT)

    sweep_dead_workers()

    assert (reloaded(stopping).worker, reloaded(stopping).state, reloaded(stopping).epoch) == (
        None,
        SessionState.STOPPED,
        2,
    )
    assert (reloaded(logged_out).worker, reloaded(logged_out).state) == (None, SessionState.LOGGED_OUT)


def test_without_a_survivor_a_dead_workers_sessions_wait_as_pending() -> None:
    lost = silent_worker(name="lost")
    session = SessionFactory.create(worker=lost, epoch=4, state=SessionState.CONNECTED)

    sweep_dead_workers()

    waiting = reloaded(session)
    assert waiting.worker is None
    assert waiting.state == SessionState.PENDING
    assert waiting.epoch == 4
    assert "lost" in waiting.state_reason
    assert NO_WORKER_REASON in waiting.state_reason


def test_a_session_does_not_fail_over_to_a_worker_of_another_engine() -> None:
    lost = silent_worker()
    WorkerFactory.create(engine="neonize")
    session = SessionFactory.create(worker=lost, epoch=1, state=SessionState.CONNECTED)

    sweep_dead_workers()

    assert reloaded(session).worker is None
    assert reloaded(session).state == SessionState.PENDING


def _shutdown_by_api(worker: Worker, raw: str) -> None:
    response = worker_client(raw).post("/internal/v1/workers/shutdown", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True}


def _shutdown(worker: Worker, raw: str) -> None:
    worker_shutdown(worker=worker)


def _revoke(worker: Worker, raw: str) -> None:
    worker_revoke(worker=worker)


RELEASES = [
    pytest.param(_shutdown_by_api, WorkerState.DEAD, id="shutdown-api"),
    pytest.param(_shutdown, WorkerState.DEAD, id="shutdown"),
    pytest.param(_revoke, WorkerState.REVOKED, id="revoke"),
]


@pytest.mark.parametrize(("release", "final"), RELEASES)
def test_a_released_workers_sessions_move_at_once(release: Callable[[Worker, str], None], final: str) -> None:
    leaving, raw = worker_with_token(name="leaving")  # heartbeating: no dead-after wait involved
    survivor = WorkerFactory.create(name="survivor")
    running = SessionFactory.create(worker=leaving, epoch=7, state=SessionState.CONNECTED)
    stopping = SessionFactory.create(worker=leaving, epoch=2, desired=Desired.STOP, state=SessionState.CONNECTED)

    release(leaving, raw)

    leaving.refresh_from_db()
    assert leaving.state == final
    assert (reloaded(running).worker, reloaded(running).epoch, reloaded(running).state) == (
        survivor,
        8,
        SessionState.STARTING,
    )
    assert (reloaded(stopping).worker, reloaded(stopping).state) == (None, SessionState.STOPPED)


@pytest.mark.parametrize(("release", "final"), RELEASES)
def test_a_released_workers_sessions_wait_as_pending_without_a_survivor(
    release: Callable[[Worker, str], None], final: str
) -> None:
    leaving, raw = worker_with_token(name="leaving")
    running = SessionFactory.create(worker=leaving, epoch=7, state=SessionState.CONNECTED)

    release(leaving, raw)

    waiting = reloaded(running)
    assert (waiting.worker, waiting.state, waiting.epoch) == (None, SessionState.PENDING, 7)
    assert NO_WORKER_REASON in waiting.state_reason


def test_a_revoked_worker_is_recorded_as_such() -> None:
    worker = WorkerFactory.create()

    worker_revoke(worker=worker)

    worker.refresh_from_db()
    assert worker.state == WorkerState.REVOKED
    assert worker.revoked_at is not None


def test_a_shut_down_workers_sessions_come_back_to_it_when_it_registers_again() -> None:
    worker, raw = worker_with_token(name="only")
    session = SessionFactory.create(worker=worker, epoch=3, state=SessionState.CONNECTED)
    _shutdown_by_api(worker, raw)
    body = {"name": "only", "advertise_url": "http://127.0.0.1:9", "engine": "sandbox", "capacity": 10}

    response = worker_client(raw).post("/internal/v1/workers/register", body, format="json")
    worker_client(raw).post("/internal/v1/heartbeat", {"load": 0, "sessions": [], "stored": []}, format="json")

    assert response.status_code == 200, response.content
    back = reloaded(session)
    assert (back.worker, back.epoch, back.state) == (worker, 4, SessionState.STARTING)


def test_a_worker_back_from_the_dead_is_told_to_forget_what_moved_away() -> None:
    lost, raw = worker_with_token(last_heartbeat_at=silent_since(settings.WORKER_DEAD_AFTER_SECONDS + 5))
    survivor = WorkerFactory.create()
    session = SessionFactory.create(worker=lost, epoch=1, state=SessionState.CONNECTED)
    sweep_dead_workers()

    response = worker_client(raw).post(
        "/internal/v1/heartbeat",
        {
            "load": 1,
            "sessions": [{"id": str(session.pk), "epoch": 1, "state": "connected"}],
            "stored": [str(session.pk)],
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["sessions"] == []
    assert response.json()["forget"] == [str(session.pk)]
    lost.refresh_from_db()
    assert lost.state == WorkerState.ACTIVE
    assert reloaded(session).worker == survivor
