"""A worker writes only into sessions it held at the event's epoch. Session events are fenced by the current epoch as
well; message events of an earlier holding, facts about what WhatsApp did, are not."""

from __future__ import annotations

from typing import Any

import pytest

from sessions_app.models import Delivery, Direction, Event, Message, MessageStatus, SessionAssignment, SessionState
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.helpers import event
from sessions_app.tests.message_helpers import received
from sessions_app.tests.webhook_helpers import endpoint_for
from workers_app.models import Engine, Worker
from workers_app.services.placement import assign
from workers_app.tests.factories import worker_with_token
from workers_app.tests.helpers import worker_client

pytestmark = pytest.mark.django_db
EVENTS = "/internal/v1/events"


def test_a_send_reported_under_an_old_epoch_still_marks_the_message_sent() -> None:
    old_worker, raw = worker_with_token()
    new_worker, _ = worker_with_token()
    session = SessionFactory.create(worker=new_worker, epoch=5, state=SessionState.CONNECTED)
    SessionAssignment.objects.create(session=session, worker=old_worker, epoch=4)
    message = Message.objects.create(
        workspace=session.workspace, session=session, direction=Direction.OUTBOUND, type="text",
        chat_jid="15550100002@s.whatsapp.net", content={"text": "hi"}, status=MessageStatus.QUEUED,
    )  # fmt: skip
    sent = event(session, "message.sent", {"message_id": str(message.pk), "wa_id": "3EB0AA"}, epoch=4)
    stale_state = event(session, "session.state", {"state": "stopped"}, epoch=4)

    answer = worker_client(raw).post(EVENTS, {"events": [sent, stale_state]}, format="json").json()

    assert answer["accepted"] == [sent["id"]]
    assert answer["rejected"] == [{"id": stale_state["id"], "code": "stale_epoch"}]
    message.refresh_from_db()
    assert (message.status, message.wa_id) == (MessageStatus.SENT, "3EB0AA")
    session.refresh_from_db()
    assert session.state == SessionState.CONNECTED
    assert old_worker.pk != new_worker.pk


def test_a_worker_that_never_held_a_session_cannot_write_messages_into_it(settings: Any) -> None:
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = True  # the endpoint is on loopback
    holder, _ = worker_with_token()
    intruder, raw = worker_with_token(engine=Engine.NEONIZE)  # nothing is ever placed on it
    session = SessionFactory.create(worker=holder, epoch=3, state=SessionState.CONNECTED)
    endpoint_for(session.workspace, "http://127.0.0.1:9/hook")
    forged = [
        event(session, "message.received", received("3EB0FORGED")),
        event(session, "message.received", received("3EB0FORGED2"), epoch=2),
        event(session, "session.state", {"state": "stopped"}),
    ]

    answer = worker_client(raw).post(EVENTS, {"events": forged}, format="json").json()

    assert answer["accepted"] == []
    assert answer["rejected"] == [
        {"id": item["id"], "code": code}
        for item, code in zip(forged, ["not_held", "not_held", "stale_epoch"], strict=True)
    ]
    assert not Message.objects.filter(session=session).exists()
    assert not Event.objects.filter(workspace=session.workspace).exists()
    assert not Delivery.objects.exists()
    session.refresh_from_db()
    assert (session.state, session.worker_id) == (SessionState.CONNECTED, holder.pk)
    intruder.refresh_from_db()
    assert intruder.events_refused == 3


def test_a_past_holder_may_report_messages_of_its_own_epoch_only() -> None:
    first, raw = worker_with_token()
    second, _ = worker_with_token()
    session = SessionFactory.create(worker=None, epoch=0, state=SessionState.PENDING)
    assign(session, first)  # epoch 1 on the first worker
    assign(session, second)  # failover: epoch 2 on the second
    mine = event(session, "message.received", received("3EB0MINE"), epoch=1)
    theirs = event(session, "message.received", received("3EB0THEIRS"), epoch=2)

    answer = worker_client(raw).post(EVENTS, {"events": [mine, theirs]}, format="json").json()

    assert answer["accepted"] == [mine["id"]]
    assert answer["rejected"] == [{"id": theirs["id"], "code": "not_held"}]
    assert list(Message.objects.filter(session=session).values_list("wa_id", flat=True)) == ["3EB0MINE"]
    assert list(session.assignments.values_list("worker_id", "epoch")) == [(first.pk, 1), (second.pk, 2)]


def test_every_assignment_is_kept_in_the_sessions_history() -> None:
    workers = [worker_with_token()[0] for _ in range(3)]
    session = SessionFactory.create(worker=None, epoch=0, state=SessionState.PENDING)
    for worker in workers:
        assign(session, worker)

    history = list(SessionAssignment.objects.filter(session=session).values_list("worker_id", "epoch"))

    assert history == [(worker.pk, n) for n, worker in enumerate(workers, start=1)]
    assert Worker.objects.get(pk=workers[0].pk).events_refused == 0
