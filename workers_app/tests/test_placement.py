"""Placement: a new session goes to the live, active worker of its engine with the lowest load relative to capacity;
each assignment bumps the epoch; without a worker the session waits as pending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.models import Workspace
from sessions_app.models import Desired, SessionState, WhatsAppSession
from sessions_app.services.sessions.lifecycle import session_create
from sessions_app.tests.factories import SessionFactory
from workers_app.models import Engine, Worker, WorkerState
from workers_app.services.placement import NO_WORKER_REASON, pick_worker, place
from workers_app.tests.factories import WorkerFactory, silent_since

pytestmark = pytest.mark.django_db


def with_running(worker: Worker, count: int) -> Worker:
    SessionFactory.create_batch(count, worker=worker, desired=Desired.RUN, state=SessionState.CONNECTED)
    return worker


def test_a_new_session_goes_to_the_worker_with_the_lowest_load_relative_to_capacity(workspace: Workspace) -> None:
    with_running(WorkerFactory.create(name="a-half-full", capacity=10), 5)
    with_running(WorkerFactory.create(name="b-forty-percent", capacity=100), 40)
    quarter = with_running(WorkerFactory.create(name="c-quarter-full", capacity=4), 1)

    session = session_create(workspace=workspace, name="shop")

    assert session.worker == quarter
    assert session.state == SessionState.STARTING
    assert session.epoch == 1


def test_relative_load_wins_over_the_number_of_sessions(workspace: Workspace) -> None:
    big = with_running(WorkerFactory.create(name="z-big", capacity=100), 10)
    with_running(WorkerFactory.create(name="a-small", capacity=5), 1)

    session = session_create(workspace=workspace, name="shop")

    assert session.worker == big


def test_only_sessions_that_should_run_count_as_load(workspace: Workspace) -> None:
    stopping = WorkerFactory.create(name="z-stopping", capacity=10)
    SessionFactory.create_batch(4, worker=stopping, desired=Desired.STOP, state=SessionState.CONNECTED)
    with_running(WorkerFactory.create(name="a-busy", capacity=10), 1)

    session = session_create(workspace=workspace, name="shop")

    assert session.worker == stopping


def test_successive_sessions_spread_over_the_workers(workspace: Workspace) -> None:
    first = WorkerFactory.create(capacity=10)
    second = WorkerFactory.create(capacity=10)

    placed = [session_create(workspace=workspace, name=f"s{n}").worker for n in range(4)]

    assert placed.count(first) == 2
    assert placed.count(second) == 2


def _full(**fields: Any) -> Worker:
    return with_running(WorkerFactory.create(capacity=2, **fields), 2)


UNFIT: list[Any] = [
    pytest.param(lambda: _full(), id="full"),
    pytest.param(lambda: WorkerFactory.create(state=WorkerState.DRAINING), id="draining"),
    pytest.param(lambda: WorkerFactory.create(state=WorkerState.DEAD), id="dead"),
    pytest.param(lambda: WorkerFactory.create(state=WorkerState.REVOKED), id="revoked"),
    pytest.param(
        lambda: WorkerFactory.create(last_heartbeat_at=silent_since(settings.WORKER_DEAD_AFTER_SECONDS + 5)),
        id="stale-heartbeat",
    ),
    pytest.param(lambda: WorkerFactory.create(last_heartbeat_at=None), id="never-heartbeated"),
    pytest.param(lambda: WorkerFactory.create(engine=Engine.NEONIZE), id="other-engine"),
]


@pytest.mark.parametrize("make_unfit", UNFIT)
def test_an_unfit_worker_is_skipped_even_when_it_is_the_emptiest(
    make_unfit: Callable[[], Worker], workspace: Workspace
) -> None:
    make_unfit()
    busy = with_running(WorkerFactory.create(capacity=10), 9)

    session = session_create(workspace=workspace, name="shop")

    assert session.worker == busy


@pytest.mark.parametrize("make_unfit", UNFIT)
def test_with_only_unfit_workers_the_session_is_pending(make_unfit: Callable[[], Worker], workspace: Workspace) -> None:
    make_unfit()

    session = session_create(workspace=workspace, name="shop")

    session.refresh_from_db()
    assert session.worker is None
    assert session.state == SessionState.PENDING
    assert session.state_reason == NO_WORKER_REASON == "no worker available"
    assert session.epoch == 0


def test_without_any_worker_the_session_is_pending(workspace: Workspace) -> None:
    session = session_create(workspace=workspace, name="shop")

    session.refresh_from_db()
    assert (session.worker, session.state, session.state_reason) == (None, SessionState.PENDING, NO_WORKER_REASON)
    assert pick_worker(engine=Engine.SANDBOX) is None


def test_a_session_created_without_start_is_not_placed(workspace: Workspace) -> None:
    WorkerFactory.create()

    session = session_create(workspace=workspace, name="shop", start=False)

    session.refresh_from_db()
    assert (session.worker, session.state, session.desired, session.epoch) == (
        None,
        SessionState.STOPPED,
        Desired.STOP,
        0,
    )


def test_each_assignment_increments_the_epoch() -> None:
    WorkerFactory.create()
    session = SessionFactory.create(worker=None, epoch=0)

    epochs = []
    for _ in range(3):
        assert place(session) is True
        epochs.append(WhatsAppSession.objects.get(pk=session.pk).epoch)

    assert epochs == [1, 2, 3]


def test_a_failed_placement_keeps_the_epoch() -> None:
    session = SessionFactory.create(worker=None, epoch=5)

    assert place(session) is False

    session.refresh_from_db()
    assert session.epoch == 5
    assert session.state == SessionState.PENDING


@override_settings(SESSION_ENGINES=["sandbox", "neonize"])
def test_a_session_goes_to_a_worker_of_its_own_engine(workspace: Workspace) -> None:
    WorkerFactory.create(engine=Engine.SANDBOX)
    neonize = WorkerFactory.create(engine=Engine.NEONIZE)

    session = session_create(workspace=workspace, name="real", engine="neonize")

    assert session.worker == neonize
