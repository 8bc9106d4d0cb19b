"""An ingest batch applies its message events a kind at a time: one statement per kind, the same outcome as one by
one (sessions_app/services/worker_events/event_groups.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_app.models import Event, Message, MessageStatus, WhatsAppSession
from sessions_app.services.worker_events.ingest import ingest_events
from sessions_app.tests.helpers import event
from sessions_app.tests.message_helpers import MessageFactory, at, connected_session, received

pytestmark = pytest.mark.django_db

MESSAGE_FIELDS = ("status", "wa_id", "sent_at", "delivered_at", "read_at", "timestamp", "reply_to_id", "reactions")


def busy_batch(session: WhatsAppSession, outbound: list[Message]) -> list[dict[str, Any]]:
    """What a busy session's worker posts: sends, receipts and arrivals interleaved, as they happen."""
    events = []
    for n, message in enumerate(outbound):
        events.append(event(session, "message.sent", {"message_id": str(message.pk), "wa_id": f"OUT{n}",
                                                      "timestamp": at(n)}))  # fmt: skip
        events.append(event(session, "message.received", received(f"IN{n}", content={"text": f"in {n}"})))
        if n:
            events.append(event(session, "message.receipt", {"type": "delivered", "wa_ids": [f"OUT{n - 1}"],
                                                             "timestamp": at(n + 1)}))  # fmt: skip
    events.append(event(session, "message.receipt", {"type": "read", "wa_ids": ["OUT0", "OUT1"], "timestamp": at(9)}))
    return events


def ingest(session: WhatsAppSession, events: list[dict[str, Any]]) -> None:
    assert session.worker is not None
    result = ingest_events(worker=session.worker, events=events)
    assert result.accepted == [e["id"] for e in events], result


def outcome(session: WhatsAppSession, outbound: list[Message]) -> tuple[list[Any], list[Any], list[Any]]:
    """The outbound messages' fields, the inbound messages, and what was published about each message, in order."""
    mine = [[getattr(Message.objects.get(pk=m.pk), name) for name in MESSAGE_FIELDS] for m in outbound]
    theirs = list(Message.objects.filter(session=session, direction="in").order_by("wa_id")
                  .values_list("wa_id", "content", "status", "unread"))  # fmt: skip
    published: dict[str, list[Any]] = {}
    for stored in Event.objects.filter(session=session).order_by("created_at", "id"):
        data = stored.envelope["data"]
        published.setdefault(data.get("wa_id") or data["id"], []).append((stored.type, data["status"]))
    return mine, theirs, sorted(published.items())


def test_a_batch_applies_each_kind_of_message_event_in_one_statement() -> None:
    session = connected_session()
    outbound = [MessageFactory.create(session=session) for _ in range(4)]

    with CaptureQueriesContext(connection) as queries:
        ingest(session, busy_batch(session, outbound))

    on_messages = [q["sql"] for q in queries.captured_queries if '"sessions_app_message"' in q["sql"][:40]]
    # received (4 rows), sent (4), delivered (3), read (2): one statement each, with a row for each event
    assert [sql.split(" ")[0] for sql in on_messages] == ["INSERT", "UPDATE", "UPDATE", "UPDATE"]
    assert [sql.count("), (") + 1 for sql in on_messages] == [4, 4, 3, 2]
    assert [Message.objects.get(pk=m.pk).status for m in outbound] == ["read", "read", "delivered", "sent"]


def test_a_batch_ends_as_its_events_applied_one_by_one() -> None:
    grouped, alone = connected_session(), connected_session()
    grouped_out = [MessageFactory.create(session=grouped) for _ in range(4)]
    alone_out = [MessageFactory.create(session=alone) for _ in range(4)]

    ingest(grouped, busy_batch(grouped, grouped_out))
    for one in busy_batch(alone, alone_out):
        ingest(alone, [one])

    assert outcome(grouped, grouped_out) == outcome(alone, alone_out)
    assert outcome(grouped, grouped_out)[0][0][0] == MessageStatus.READ


def test_a_reply_and_a_reaction_find_a_message_received_earlier_in_the_same_batch() -> None:
    session = connected_session()
    ingest(session, [
        event(session, "message.received", received("IN1")),
        event(session, "message.received", received("IN2", content={"text": "re"}, quoted={"wa_id": "IN1"})),
        event(session, "message.received", received("IN3", type="reaction", target={"wa_id": "IN2"},
                                                     content={"emoji": "👍"})),
    ])  # fmt: skip

    first, reply = Message.objects.get(wa_id="IN1"), Message.objects.get(wa_id="IN2")
    assert reply.reply_to_id == first.pk
    assert reply.reactions == {received("x")["sender_jid"]: "👍"}


def test_a_message_received_again_in_a_batch_is_stored_once_and_the_new_ones_are_stored() -> None:
    session = connected_session()
    ingest(session, [event(session, "message.received", received("IN1"))])

    ingest(session, [event(session, "message.received", received(wa_id)) for wa_id in ("IN0", "IN1", "IN2")])

    assert sorted(Message.objects.values_list("wa_id", flat=True)) == ["IN0", "IN1", "IN2"]
    assert Event.objects.filter(type="message.received").count() == 3


def test_of_two_sent_events_for_one_message_in_a_batch_the_first_counts() -> None:
    session = connected_session()
    message = MessageFactory.create(session=session)

    ingest(session, [
        event(session, "message.sent", {"message_id": str(message.pk), "wa_id": "FIRST", "timestamp": at(1)}),
        event(session, "message.sent", {"message_id": str(message.pk), "wa_id": "SECOND", "timestamp": at(2)}),
    ])  # fmt: skip

    assert Message.objects.get(pk=message.pk).wa_id == "FIRST"
    assert Event.objects.filter(type="message.status").count() == 1
