"""Draining a worker: it is told to run nothing, and each session it lets go of (after its final snapshot) moves to
another worker under a new epoch; with nowhere to go it keeps them; what it holds past the timeout moves anyway."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from sessions_app.models import Desired, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from workers_app.models import Worker, WorkerState
from workers_app.services.drain import release_overdue_drains, worker_drain
from workers_app.tasks import sweep_dead_workers
from workers_app.tests.factories import WorkerFactory, worker_with_token
from workers_app.tests.helpers import worker_client

pytestmark = pytest.mark.django_db
HEARTBEAT = "/internal/v1/heartbeat"


def heartbeat(raw: str, running: list[WhatsAppSession]) -> dict[str, Any]:
    sessions = [{"id": str(s.pk), "epoch": s.epoch, "state": "connected"} for s in running]
    stored = [str(s.pk) for s in running]
    response = worker_client(raw).post(HEARTBEAT, {"load": len(running), "sessions": sessions, "stored": stored},
                                       format="json")  # fmt: skip
    assert response.status_code == 200, response.content
    answer: dict[str, Any] = response.json()
    return answer


def reloaded(session: WhatsAppSession) -> WhatsAppSession:
    return WhatsAppSession.objects.get(pk=session.pk)


def connected_on(worker: Worker, **fields: Any) -> WhatsAppSession:
    values = {"worker": worker, "epoch": 3, "state": SessionState.CONNECTED, "phone": "+15550100001", **fields}
    session: WhatsAppSession = SessionFactory.create(**values)
    return session


def test_draining_marks_the_worker_and_when_but_moves_nothing_yet() -> None:
    drained = WorkerFactory.create()
    WorkerFactory.create(name="other")
    session = connected_on(drained)

    worker_drain(worker=drained)

    drained.refresh_from_db()
    assert drained.state == WorkerState.DRAINING
    assert drained.draining_since is not None
    assert (reloaded(session).worker, reloaded(session).epoch) == (drained, 3)  # still running there


def test_a_revoked_worker_is_not_drained() -> None:
    revoked = WorkerFactory.create(state=WorkerState.REVOKED)

    worker_drain(worker=revoked)

    revoked.refresh_from_db()
    assert (revoked.state, revoked.draining_since) == (WorkerState.REVOKED, None)


def test_a_draining_worker_is_told_to_run_nothing_while_another_can_take_its_sessions() -> None:
    drained, raw = worker_with_token()
    WorkerFactory.create(name="other")
    session = connected_on(drained)
    worker_drain(worker=drained)

    answer = heartbeat(raw, running=[session])

    assert answer["sessions"] == []  # it stops the session, with a final snapshot
    assert answer["forget"] == []  # and keeps its local store until the session has moved
    assert (reloaded(session).worker, reloaded(session).epoch) == (drained, 3)  # not moved while it still runs


def test_a_session_the_draining_worker_let_go_of_moves_under_a_new_epoch_and_its_store_is_forgotten() -> None:
    drained, raw = worker_with_token()
    other = WorkerFactory.create(name="other")
    session = connected_on(drained)
    stopping = connected_on(drained, desired=Desired.STOP)
    worker_drain(worker=drained)
    heartbeat(raw, running=[session])

    response = worker_client(raw).post(HEARTBEAT, {"load": 0, "sessions": [], "stored": [str(session.pk)]},
                                       format="json")  # fmt: skip

    moved = reloaded(session)
    assert (moved.worker, moved.epoch, moved.state) == (other, 4, SessionState.STARTING)
    assert response.json()["forget"] == [str(session.pk)]  # on another worker now: the old store goes
    assert reloaded(stopping).worker is None  # asked to stop: settled as stopped, not moved


def test_with_no_other_worker_a_draining_worker_keeps_running_its_sessions() -> None:
    drained, raw = worker_with_token()
    session = connected_on(drained)
    worker_drain(worker=drained)

    answer = heartbeat(raw, running=[session])

    assert [item["id"] for item in answer["sessions"]] == [str(session.pk)]
    assert reloaded(session).worker == drained


def test_sessions_a_drained_worker_still_holds_after_the_timeout_move_anyway() -> None:
    drained = WorkerFactory.create(name="stubborn")
    other = WorkerFactory.create(name="other")
    session = connected_on(drained)
    worker_drain(worker=drained)
    assert release_overdue_drains() == []  # within the timeout: it is given time to let go

    late = timezone.now() - timedelta(seconds=settings.WORKER_DRAIN_TIMEOUT_SECONDS + 1)
    Worker.objects.filter(pk=drained.pk).update(draining_since=late)

    assert release_overdue_drains() == ["stubborn"]
    assert (reloaded(session).worker, reloaded(session).epoch) == (other, 4)
    assert release_overdue_drains() == []


def test_overdue_sessions_stay_where_they_are_while_no_other_worker_can_take_them() -> None:
    drained = WorkerFactory.create(draining_since=timezone.now() - timedelta(days=1), state=WorkerState.DRAINING)
    session = connected_on(drained)

    assert release_overdue_drains() == []
    assert reloaded(session).worker == drained


def test_the_operators_drain_action_drains_without_moving_sessions_at_once() -> None:
    operator = get_user_model().objects.create_superuser("ops@example.com", "pw-0123456789")
    client = Client()
    client.force_login(operator)
    drained = WorkerFactory.create()
    WorkerFactory.create(name="other")
    session = connected_on(drained)

    response = client.post("/admin/workers_app/worker/", {"action": "drain", "_selected_action": [str(drained.pk)]})

    assert response.status_code == 302
    drained.refresh_from_db()
    assert drained.state == WorkerState.DRAINING
    assert reloaded(session).worker == drained


def test_a_let_go_session_waits_as_pending_when_the_other_workers_filled_up_meanwhile() -> None:
    drained, raw = worker_with_token()
    other = WorkerFactory.create(name="other", capacity=1)
    session = connected_on(drained)
    worker_drain(worker=drained)
    heartbeat(raw, running=[session])  # let go of it, while "other" had room
    connected_on(other)  # and now it has none

    heartbeat(raw, running=[])

    waiting = reloaded(session)
    assert (waiting.worker, waiting.state) == (None, SessionState.PENDING)
    assert waiting.state_reason == f"worker {drained.name} drained; no worker available"


def test_the_periodic_sweep_moves_what_an_overdue_drained_worker_still_holds() -> None:
    drained = WorkerFactory.create(name="stubborn", state=WorkerState.DRAINING,
                                   draining_since=timezone.now() - timedelta(days=1))  # fmt: skip
    other = WorkerFactory.create(name="other")
    session = connected_on(drained)

    assert sweep_dead_workers() == []  # nobody died: the drained worker still heartbeats

    assert reloaded(session).worker == other
