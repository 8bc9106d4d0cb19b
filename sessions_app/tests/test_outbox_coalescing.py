"""A burst of sends becomes one queued hand-over per session; a running hand-over takes what is sent meanwhile without
a task of its own; nothing sent around the end of a hand-over is left for the sweep."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache

from sessions_app.services.messages import outbox
from sessions_app.services.messages.outbox import dispatch_after_commit
from sessions_app.tests.message_helpers import MessageFactory, connected_session

pytestmark = pytest.mark.django_db
CALL_WORKER = "workers_app.client.call_worker"


def test_a_burst_enqueues_one_dispatch_and_the_next_one_after_the_task_started(
    django_capture_on_commit_callbacks: Any,
) -> None:
    session = connected_session()
    cache.delete(f"outbox-dispatch-queued:{session.pk}")
    with mock.patch("sessions_app.tasks.dispatch_outbox.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(5):
                dispatch_after_commit(session.pk)
        assert delay.call_count == 1
        with mock.patch("workers_app.client.call_worker", return_value={"accepted": []}):
            outbox.dispatch(str(session.pk))  # the task runs, finds nothing more, and clears the mark
        with django_capture_on_commit_callbacks(execute=True):
            dispatch_after_commit(session.pk)
        assert delay.call_count == 2


def _accepting_worker(on_call: Any = None) -> Any:
    def call(worker: Any, path: str, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        offered.append([m["id"] for m in payload["messages"]])
        if on_call is not None:
            on_call(len(offered))
        return {"accepted": offered[-1]}

    offered: list[list[str]] = []
    call.offered = offered  # type: ignore[attr-defined]
    return call


def test_messages_sent_during_a_hand_over_go_in_the_next_round_of_the_same_task(
    django_capture_on_commit_callbacks: Any,
) -> None:
    session = connected_session()
    first = MessageFactory.create(session=session)
    later: list[str] = []

    def a_send_meanwhile(calls: int) -> None:
        if calls == 1:  # the customer sends while the first hand-over is on its way
            later.append(str(MessageFactory.create(session=session).pk))
            with django_capture_on_commit_callbacks(execute=True):
                dispatch_after_commit(session.pk)

    worker = _accepting_worker(a_send_meanwhile)
    cache.add(f"outbox-dispatch-queued:{session.pk}", 1)  # as the send that enqueued this task left it
    with mock.patch("sessions_app.tasks.dispatch_outbox.delay") as delay, mock.patch(CALL_WORKER, worker):
        assert outbox.dispatch(str(session.pk)) == 2

    assert worker.offered == [[str(first.pk)], later]
    assert delay.call_count == 0  # the send during the hand-over enqueued nothing
    assert cache.get(f"outbox-dispatch-queued:{session.pk}") is None  # the next send enqueues again


def test_a_message_committed_as_a_round_ends_is_taken_by_the_same_task() -> None:
    session = connected_session()
    MessageFactory.create(session=session)
    real_delete = cache.delete
    straggler: list[str] = []

    def delete(key: str, *args: Any, **kwargs: Any) -> Any:
        # A send commits at the end of a round, while the mark is still set: it enqueues nothing.
        if key.startswith("outbox-dispatch-queued:") and not straggler:
            straggler.append(str(MessageFactory.create(session=session).pk))
        return real_delete(key, *args, **kwargs)

    with (
        mock.patch("sessions_app.tasks.dispatch_outbox.delay") as delay,
        mock.patch(CALL_WORKER, _accepting_worker()),
        mock.patch.object(cache, "delete", side_effect=delete),
    ):
        assert outbox.dispatch(str(session.pk)) == 2
    assert delay.call_count == 0
    assert cache.get(f"outbox-dispatch-queued:{session.pk}") is None


def test_a_send_that_finds_the_mark_cleared_enqueues_and_the_task_leaves_its_messages_to_that_task() -> None:
    session = connected_session()
    MessageFactory.create(session=session)
    real_delete = cache.delete
    straggler: list[str] = []

    def delete(key: str, *args: Any, **kwargs: Any) -> Any:
        result = real_delete(key, *args, **kwargs)
        if key.startswith("outbox-dispatch-queued:") and not straggler:  # a send just after the mark is cleared
            straggler.append(str(MessageFactory.create(session=session).pk))
            outbox._enqueue_dispatch(str(session.pk))
        return result

    worker = _accepting_worker()
    with (
        mock.patch("sessions_app.tasks.dispatch_outbox.delay") as delay,
        mock.patch(CALL_WORKER, worker),
        mock.patch.object(cache, "delete", side_effect=delete),
    ):
        assert outbox.dispatch(str(session.pk)) == 1
    delay.assert_called_once_with(str(session.pk))  # the send's own task takes the straggler
    assert len(worker.offered) == 1


def test_a_task_stops_after_its_hold_time_and_leaves_the_rest_to_another(monkeypatch: pytest.MonkeyPatch) -> None:
    session = connected_session()
    MessageFactory.create(session=session)
    monkeypatch.setattr(outbox, "HOLD_SECONDS", 0.0)
    worker = _accepting_worker(lambda calls: MessageFactory.create(session=session))  # sends keep coming

    with mock.patch("sessions_app.tasks.dispatch_outbox.delay") as delay, mock.patch(CALL_WORKER, worker):
        assert outbox.dispatch(str(session.pk)) == 1

    assert len(worker.offered) == 1
    delay.assert_called_once_with(str(session.pk))  # the message that came meanwhile has a task of its own


def test_messages_the_worker_refused_wait_for_the_sweep_rather_than_a_new_task_at_once() -> None:
    session = connected_session()
    MessageFactory.create(session=session)

    def refusing(worker: Any, path: str, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"accepted": []}

    with mock.patch("sessions_app.tasks.dispatch_outbox.delay") as delay, mock.patch(CALL_WORKER, refusing):
        assert outbox.dispatch(str(session.pk)) == 0
    assert delay.call_count == 0  # no task after task for a worker that takes nothing
