"""The gateway's outbox: queued messages are offered to the session's worker in creation order, only while it is
connected, once per epoch; overdue ones fail as expired; an unreachable worker makes the dispatch task back off."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from celery.exceptions import Retry
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_app.models import Direction, Message, MessageStatus, SessionState, WhatsAppSession
from sessions_app.services.messages import outbox, outbox_queries
from sessions_app.tasks import dispatch_outbox
from sessions_app.tests.message_helpers import MessageFactory, connected_session
from workers_app.client import WorkerUnavailable

pytestmark = pytest.mark.django_db
CALL_WORKER = "workers_app.client.call_worker"


class FakeWorker:
    """Stands in for call_worker: records each hand-over and accepts every message (or refuses them all)."""

    def __init__(self, *, accept: bool = True) -> None:
        self.accept = accept
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, worker: Any, path: str, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self.calls.append((path, payload))
        return {"accepted": [m["id"] for m in payload["messages"]] if self.accept else []}

    def offered(self) -> list[list[str]]:
        return [[m["id"] for m in payload["messages"]] for _, payload in self.calls]


def queued_in_order(session: WhatsAppSession, count: int) -> list[Message]:
    """``count`` queued messages, oldest first; created newest first so insertion order cannot pass for age."""
    now = timezone.now()
    made = [
        MessageFactory.create(session=session, content={"text": f"m{i}"}, created_at=now - timedelta(minutes=i))
        for i in range(count)
    ]
    return list(reversed(made))


def test_queued_messages_are_offered_in_creation_order() -> None:
    session = connected_session()
    messages = queued_in_order(session, 4)
    fake = FakeWorker()

    with patch(CALL_WORKER, fake):
        taken = outbox.dispatch(str(session.pk))

    assert taken == 4
    assert fake.offered() == [[str(m.pk) for m in messages]]
    path, payload = fake.calls[0]
    assert path == f"/sessions/{session.pk}/outbox"
    assert payload["epoch"] == session.epoch
    assert [m["content"]["text"] for m in payload["messages"]] == ["m3", "m2", "m1", "m0"]


def test_only_queued_outbound_messages_of_the_session_are_offered() -> None:
    session = connected_session()
    wanted = MessageFactory.create(session=session)
    MessageFactory.create(session=session, status=MessageStatus.SENT, wa_id="3EB0SENT")
    MessageFactory.create(session=session, status=MessageStatus.FAILED)
    MessageFactory.create(session=session, direction="in", status=MessageStatus.RECEIVED, wa_id="3EB0IN")
    MessageFactory.create(session=connected_session())
    fake = FakeWorker()

    with patch(CALL_WORKER, fake):
        outbox.dispatch(str(session.pk))

    assert fake.offered() == [[str(wanted.pk)]]


@pytest.mark.parametrize(
    "state", [SessionState.PENDING, SessionState.SCAN_QR, SessionState.RECONNECTING, SessionState.STOPPED]
)
def test_nothing_is_offered_while_the_session_is_not_connected(state: str) -> None:
    session = connected_session(state=state)
    message = MessageFactory.create(session=session)
    fake = FakeWorker()

    with patch(CALL_WORKER, fake):
        assert outbox.dispatch(str(session.pk)) == 0

    assert fake.calls == []
    assert Message.objects.get(pk=message.pk).dispatched_epoch is None


def test_nothing_is_offered_to_a_session_without_a_worker() -> None:
    session = connected_session(worker=None)
    MessageFactory.create(session=session)
    fake = FakeWorker()

    with patch(CALL_WORKER, fake):
        assert outbox.dispatch(str(session.pk)) == 0

    assert fake.calls == []


def test_accepted_messages_are_marked_for_the_epoch_and_not_offered_again() -> None:
    session = connected_session(epoch=5)
    messages = queued_in_order(session, 2)
    fake = FakeWorker()

    with patch(CALL_WORKER, fake):
        outbox.dispatch(str(session.pk))
        again = outbox.dispatch(str(session.pk))

    assert again == 0
    assert len(fake.calls) == 1
    assert {Message.objects.get(pk=m.pk).dispatched_epoch for m in messages} == {5}
    assert {Message.objects.get(pk=m.pk).status for m in messages} == {MessageStatus.QUEUED}


def test_messages_the_worker_did_not_take_are_offered_again() -> None:
    session = connected_session()
    message = MessageFactory.create(session=session)

    with patch(CALL_WORKER, FakeWorker(accept=False)):
        assert outbox.dispatch(str(session.pk)) == 0
    fake = FakeWorker()
    with patch(CALL_WORKER, fake):
        outbox.dispatch(str(session.pk))

    assert fake.offered() == [[str(message.pk)]]


def test_after_an_epoch_change_dispatched_messages_are_offered_again() -> None:
    session = connected_session(epoch=1)
    messages = queued_in_order(session, 2)
    fake = FakeWorker()
    with patch(CALL_WORKER, fake):
        outbox.dispatch(str(session.pk))

    WhatsAppSession.objects.filter(pk=session.pk).update(epoch=2)  # failed over to another worker
    with patch(CALL_WORKER, fake):
        outbox.dispatch(str(session.pk))

    assert fake.offered() == [[str(m.pk) for m in messages]] * 2
    assert [payload["epoch"] for _, payload in fake.calls] == [1, 2]
    assert {Message.objects.get(pk=m.pk).dispatched_epoch for m in messages} == {2}


def test_overdue_queued_messages_fail_as_expired() -> None:
    session = connected_session()
    overdue = MessageFactory.create(session=session, expires_at=timezone.now() - timedelta(seconds=1))
    fresh = MessageFactory.create(session=session, expires_at=timezone.now() + timedelta(minutes=5))
    sent = MessageFactory.create(
        session=session, status=MessageStatus.SENT, wa_id="3EB0A", expires_at=timezone.now() - timedelta(hours=1)
    )

    expired = outbox.expire_overdue()

    assert expired == 1
    assert Message.objects.get(pk=overdue.pk).status == MessageStatus.FAILED
    assert Message.objects.get(pk=overdue.pk).failure_reason == "expired"
    assert Message.objects.get(pk=fresh.pk).status == MessageStatus.QUEUED
    assert Message.objects.get(pk=sent.pk).status == MessageStatus.SENT


def test_expiry_for_one_session_leaves_the_others_alone() -> None:
    session, other = connected_session(), connected_session()
    past = timezone.now() - timedelta(seconds=1)
    mine = MessageFactory.create(session=session, expires_at=past)
    theirs = MessageFactory.create(session=other, expires_at=past)

    assert outbox.expire_overdue(session) == 1

    assert Message.objects.get(pk=mine.pk).status == MessageStatus.FAILED
    assert Message.objects.get(pk=theirs.pk).status == MessageStatus.QUEUED


def test_dispatch_never_offers_an_overdue_message() -> None:
    session = connected_session()
    overdue = MessageFactory.create(session=session, expires_at=timezone.now() - timedelta(seconds=1))
    fresh = MessageFactory.create(session=session)
    fake = FakeWorker()

    with patch(CALL_WORKER, fake):
        outbox.dispatch(str(session.pk))

    assert fake.offered() == [[str(fresh.pk)]]
    assert Message.objects.get(pk=overdue.pk).failure_reason == "expired"


def test_an_unreachable_worker_leaves_messages_undispatched() -> None:
    session = connected_session()
    message = MessageFactory.create(session=session)

    with patch(CALL_WORKER, side_effect=WorkerUnavailable()), pytest.raises(WorkerUnavailable):
        outbox.dispatch(str(session.pk))

    assert Message.objects.get(pk=message.pk).dispatched_epoch is None


def retry_countdown(session_id: str, retries: int) -> float:
    """The countdown the dispatch task asks Celery to retry after, on its ``retries``-th retry."""
    task: Any = dispatch_outbox  # celery's stubs type push_request with the task's own parameters
    task.push_request(retries=retries)
    try:
        with (
            patch(CALL_WORKER, side_effect=WorkerUnavailable()),
            patch.object(dispatch_outbox, "retry", side_effect=Retry()) as retry,
            pytest.raises(Retry),
        ):
            dispatch_outbox.run(session_id)
    finally:
        task.pop_request()
    assert isinstance(retry.call_args.kwargs["exc"], WorkerUnavailable)
    countdown: float = retry.call_args.kwargs["countdown"]
    return countdown


def test_the_dispatch_task_retries_with_growing_capped_backoff_when_the_worker_is_unreachable() -> None:
    session = connected_session()
    MessageFactory.create(session=session)

    countdowns = [retry_countdown(str(session.pk), retries) for retries in (0, 1, 2, 3, 50)]

    assert countdowns[0] > 0
    assert countdowns[:4] == sorted(set(countdowns[:4]))  # grows with every retry
    assert countdowns[4] <= 60  # but never past a minute


def test_the_dispatch_task_answers_how_many_the_worker_took() -> None:
    session = connected_session()
    queued_in_order(session, 3)

    with patch(CALL_WORKER, FakeWorker()):
        assert dispatch_outbox.run(str(session.pk)) == 3


def test_replies_and_reactions_travel_with_the_messages_they_refer_to_in_a_fixed_number_of_queries(
    django_assert_max_num_queries: Any,
) -> None:
    session = connected_session()
    earlier = MessageFactory.create(session=session, status=MessageStatus.SENT, wa_id="3EB0EARLIER")
    replies = [MessageFactory.create(session=session, reply_to=earlier) for _ in range(5)]
    reaction = MessageFactory.create(session=session, type="reaction", target=earlier, content={"emoji": "👍"})
    fake = FakeWorker()

    # One round: the batch, the messages referred to, the update of what was taken
    with patch(CALL_WORKER, fake), django_assert_max_num_queries(3):
        assert outbox._offer(session) == (6, 6)

    _, payload = fake.calls[0]
    by_id = {m["id"]: m for m in payload["messages"]}
    assert all(by_id[str(r.pk)]["reply_to"]["wa_id"] == "3EB0EARLIER" for r in replies)
    assert by_id[str(reaction.pk)]["target"]["message_id"] == str(earlier.pk)
    assert by_id[str(reaction.pk)]["reply_to"] is None


def test_a_batch_of_plain_messages_takes_two_queries(django_assert_num_queries: Any) -> None:
    session = connected_session()
    queued_in_order(session, 5)
    # One round: the batch (overdue ones among it fail there), the update of what the worker took
    with patch(CALL_WORKER, FakeWorker()), django_assert_num_queries(2):
        assert outbox._offer(session) == (5, 5)


def test_a_hand_over_reads_the_session_once_and_looks_for_more_once_without_a_second_round() -> None:
    session = connected_session()
    queued_in_order(session, 1)
    with patch(CALL_WORKER, FakeWorker()), CaptureQueriesContext(connection) as queries:
        assert outbox.dispatch(str(session.pk)) == 1
    statements = [query["sql"] for query in queries.captured_queries]
    assert len([sql for sql in statements if 'FROM "sessions_app_whatsappsession"' in sql]) == 1
    assert len([sql for sql in statements if 'FROM "workers_app_worker"' in sql]) == 1
    # The batch; then, after the update, one look for more (once the mark is cleared), no second batch.
    batches = [sql for sql in statements if sql.startswith('SELECT * FROM "sessions_app_message"')]
    looks = [sql for sql in statements if sql.startswith('SELECT 1 FROM "sessions_app_message"')]
    assert (len(batches), len(looks)) == (1, 1)
    assert len(statements) == 5


def test_the_written_out_selection_matches_the_orm_one() -> None:
    """outbox_queries selects the session's queued outbound messages not handed over in its epoch, oldest first, as
    the ORM query it replaced did."""
    session = connected_session()
    kept = queued_in_order(session, 3)
    MessageFactory.create(session=session, status=MessageStatus.SENT)
    MessageFactory.create(session=session, dispatched_epoch=session.epoch)
    kept.append(MessageFactory.create(session=session, dispatched_epoch=session.epoch - 1))
    MessageFactory.create(session=connected_session())

    orm_selection = Message.objects.filter(
        session=session, direction=Direction.OUTBOUND, status=MessageStatus.QUEUED
    ).filter(Q(dispatched_epoch__isnull=True) | ~Q(dispatched_epoch=session.epoch))
    orm = list(orm_selection.order_by("created_at").values_list("pk", flat=True))
    written = [message.pk for message in outbox_queries.undispatched_batch(session, 10)]

    assert written == orm == [message.pk for message in kept]
    assert outbox_queries.has_undispatched(session)
    outbox_queries.mark_dispatched([str(pk) for pk in orm], session.epoch)
    assert not outbox_queries.has_undispatched(session)
    assert not orm_selection.exists()
