"""Message events from workers: sent and receipts move our messages forward only; received messages are stored once
per WhatsApp id; reactions, edits and deletes change the message they refer to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sessions_app.models import Direction, Event, Message, MessageStatus, WhatsAppSession
from sessions_app.services.worker_events.ingest import ingest_events
from sessions_app.tests.helpers import event
from sessions_app.tests.message_helpers import (
    PEER_JID,
    PEER_PHONE,
    T0,
    MessageFactory,
    at,
    connected_session,
    inbound,
    received,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def session() -> WhatsAppSession:
    return connected_session()


def ingest(session: WhatsAppSession, kind: str, data: dict[str, Any]) -> None:
    assert session.worker is not None
    result = ingest_events(worker=session.worker, events=[event(session, kind, data)])
    assert len(result.accepted) == 1, result


def reloaded(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def test_message_sent_moves_a_queued_message_to_sent_with_its_whatsapp_id(session: WhatsAppSession) -> None:
    message = MessageFactory.create(session=session)

    ingest(session, "message.sent", {"message_id": str(message.pk), "wa_id": "3EB0AA", "timestamp": at(1)})

    sent = reloaded(message)
    assert (sent.status, sent.wa_id) == (MessageStatus.SENT, "3EB0AA")
    assert sent.sent_at == sent.timestamp == T0 + timedelta(minutes=1)


def test_receipts_move_a_message_forward_only(session: WhatsAppSession) -> None:
    message = MessageFactory.create(session=session)
    ingest(session, "message.sent", {"message_id": str(message.pk), "wa_id": "3EB0AA", "timestamp": at(1)})

    ingest(session, "message.receipt", {"type": "read", "wa_ids": ["3EB0AA"], "timestamp": at(3)})
    ingest(session, "message.receipt", {"type": "delivered", "wa_ids": ["3EB0AA"], "timestamp": at(2)})

    late = reloaded(message)
    assert late.status == MessageStatus.READ
    assert late.read_at == T0 + timedelta(minutes=3)
    assert late.delivered_at is None  # the late "delivered" changed nothing


def test_receipts_advance_each_step_and_keep_its_time(session: WhatsAppSession) -> None:
    message = MessageFactory.create(session=session, status=MessageStatus.SENT, wa_id="3EB0AA")

    ingest(session, "message.receipt", {"type": "delivered", "wa_ids": ["3EB0AA"], "timestamp": at(2)})
    delivered = reloaded(message)
    ingest(session, "message.receipt", {"type": "read", "wa_ids": ["3EB0AA"], "timestamp": at(3)})

    assert (delivered.status, delivered.delivered_at) == (MessageStatus.DELIVERED, T0 + timedelta(minutes=2))
    read = reloaded(message)
    assert (read.status, read.delivered_at, read.read_at) == (
        MessageStatus.READ, T0 + timedelta(minutes=2), T0 + timedelta(minutes=3),
    )  # fmt: skip


def test_a_failed_message_stays_failed(session: WhatsAppSession) -> None:
    message = MessageFactory.create(session=session, status=MessageStatus.FAILED, failure_reason="x", wa_id="3EB0AA")

    ingest(session, "message.receipt", {"type": "delivered", "wa_ids": ["3EB0AA"], "timestamp": at(2)})
    ingest(session, "message.sent", {"message_id": str(message.pk), "wa_id": "3EB0AA", "timestamp": at(1)})

    assert (reloaded(message).status, reloaded(message).failure_reason) == (MessageStatus.FAILED, "x")


def test_message_failed_fails_a_queued_message_with_its_reason(session: WhatsAppSession) -> None:
    queued = MessageFactory.create(session=session)
    sent = MessageFactory.create(session=session, status=MessageStatus.SENT, wa_id="3EB0AA")

    ingest(session, "message.failed", {"message_id": str(queued.pk), "reason": "send_interrupted"})
    ingest(session, "message.failed", {"message_id": str(sent.pk), "reason": "send_interrupted"})

    assert (reloaded(queued).status, reloaded(queued).failure_reason) == (MessageStatus.FAILED, "send_interrupted")
    assert reloaded(sent).status == MessageStatus.SENT


def test_receipts_of_another_session_change_nothing(session: WhatsAppSession) -> None:
    other = connected_session()
    message = MessageFactory.create(session=session, status=MessageStatus.SENT, wa_id="3EB0AA")

    ingest(other, "message.receipt", {"type": "read", "wa_ids": ["3EB0AA"], "timestamp": at(3)})

    assert reloaded(message).status == MessageStatus.SENT


def test_a_received_message_is_stored_once_even_when_it_arrives_twice(session: WhatsAppSession) -> None:
    ingest(session, "message.received", received("3EB0IN"))
    ingest(session, "message.received", received("3EB0IN"))  # a redelivery: another event id, same message

    stored = Message.objects.get(session=session)
    assert (stored.direction, stored.status, stored.wa_id) == (Direction.INBOUND, MessageStatus.RECEIVED, "3EB0IN")
    assert (stored.chat_jid, stored.sender_jid, stored.sender_phone, stored.push_name) == (
        PEER_JID, PEER_JID, PEER_PHONE, "Bea",
    )  # fmt: skip
    assert stored.content == {"text": "hi"}
    assert stored.unread is True
    assert stored.timestamp == T0


def test_the_same_whatsapp_id_in_two_sessions_is_two_messages(session: WhatsAppSession) -> None:
    other = connected_session()

    ingest(session, "message.received", received("3EB0IN"))
    ingest(other, "message.received", received("3EB0IN"))

    assert Message.objects.filter(wa_id="3EB0IN").count() == 2


def test_a_received_reaction_sets_and_an_empty_one_removes_it(session: WhatsAppSession) -> None:
    mine = MessageFactory.create(session=session, status=MessageStatus.SENT, wa_id="3EB0MINE")
    reaction = {"type": "reaction", "target": {"wa_id": "3EB0MINE"}}

    ingest(session, "message.received", received("3EB0R1", **reaction, content={"emoji": "👍"}))
    reacted = reloaded(mine).reactions
    ingest(session, "message.received", received("3EB0R2", **reaction, content={"emoji": ""}))

    assert reacted == {PEER_JID: "👍"}
    assert reloaded(mine).reactions == {}


def test_a_new_reaction_of_the_same_sender_replaces_the_old_one(session: WhatsAppSession) -> None:
    mine = MessageFactory.create(
        session=session, status=MessageStatus.SENT, wa_id="3EB0MINE", reactions={"x@lid": "🎉"}
    )
    reaction = {"type": "reaction", "target": {"wa_id": "3EB0MINE"}}

    ingest(session, "message.received", received("3EB0R1", **reaction, content={"emoji": "👍"}))
    ingest(session, "message.received", received("3EB0R2", **reaction, content={"emoji": "❤️"}))

    assert reloaded(mine).reactions == {"x@lid": "🎉", PEER_JID: "❤️"}


def test_a_received_edit_changes_the_text_and_marks_it_edited(session: WhatsAppSession) -> None:
    theirs = inbound(session, "3EB0ORIG", content={"text": "helo"})

    ingest(
        session,
        "message.received",
        received("3EB0E", type="edit", target={"wa_id": "3EB0ORIG"}, content={"text": "hello"}, timestamp=at(5)),
    )

    edited = reloaded(theirs)
    assert edited.content["text"] == "hello"
    assert edited.content["edited"] is True
    assert edited.edited_at == T0 + timedelta(minutes=5)


def test_a_received_delete_revokes_the_message(session: WhatsAppSession) -> None:
    theirs = inbound(session, "3EB0ORIG")

    ingest(session, "message.received", received("3EB0D", type="delete", target={"wa_id": "3EB0ORIG"}, timestamp=at(7)))

    assert reloaded(theirs).revoked_at == T0 + timedelta(minutes=7)


def test_reactions_edits_and_deletes_are_not_unread_messages(session: WhatsAppSession) -> None:
    inbound(session, "3EB0ORIG", unread=False)

    ingest(session, "message.received", received("3EB0R", type="reaction", target={"wa_id": "3EB0ORIG"}))

    reaction = Message.objects.get(wa_id="3EB0R")
    assert reaction.unread is False
    assert reaction.target is not None
    assert reaction.target.wa_id == "3EB0ORIG"


def test_a_reply_is_linked_to_the_quoted_message_by_whatsapp_id(session: WhatsAppSession) -> None:
    mine = MessageFactory.create(session=session, status=MessageStatus.SENT, wa_id="3EB0MINE")

    ingest(session, "message.received", received("3EB0RE", quoted={"wa_id": "3EB0MINE"}))

    assert Message.objects.get(wa_id="3EB0RE").reply_to == mine


def test_a_reply_to_an_unknown_message_is_stored_without_a_link(session: WhatsAppSession) -> None:
    ingest(session, "message.received", received("3EB0RE", quoted={"wa_id": "3EB0GONE"}))

    assert Message.objects.get(wa_id="3EB0RE").reply_to is None


def test_a_sender_known_by_lid_keeps_the_phone_the_worker_resolved(session: WhatsAppSession) -> None:
    lid = "214823452345678@lid"

    ingest(session, "message.received", received("3EB0L", chat_jid=lid, sender_jid=lid, sender_phone=PEER_PHONE))

    stored = Message.objects.get(wa_id="3EB0L")
    assert (stored.sender_jid, stored.sender_phone) == (lid, PEER_PHONE)


def test_a_lid_sender_without_a_phone_takes_it_from_the_alternative_jid(session: WhatsAppSession) -> None:
    lid = "214823452345678@lid"

    ingest(
        session,
        "message.received",
        received("3EB0L", sender_jid=lid, sender_phone="", sender_alt="15550100002@s.whatsapp.net"),
    )

    assert Message.objects.get(wa_id="3EB0L").sender_phone == PEER_PHONE


def test_our_own_reaction_shows_on_the_target_once_sent(session: WhatsAppSession) -> None:
    target = inbound(session, "3EB0THEIRS")
    reaction = MessageFactory.create(
        session=session,
        type="reaction",
        target=target,
        content={"emoji": "🔥"},
        sender_jid="15550100001@s.whatsapp.net",
    )
    assert reloaded(target).reactions == {}

    ingest(session, "message.sent", {"message_id": str(reaction.pk), "wa_id": "3EB0RX", "timestamp": at(1)})

    assert reloaded(target).reactions == {"15550100001@s.whatsapp.net": "🔥"}


def test_a_redelivered_reaction_is_applied_and_published_once(session: WhatsAppSession) -> None:
    from sessions_app.models import Event

    target = inbound(session, wa_id="WA-TARGET")
    reaction = received("WA-REACTION", type="reaction", content={"emoji": "🎉"}, target={"wa_id": "WA-TARGET"})
    ingest(session, "message.received", reaction)
    ingest(session, "message.received", reaction)  # WhatsApp delivers it again, as a new event

    assert reloaded(target).reactions == {PEER_JID: "🎉"}
    assert Event.objects.filter(type="message.reaction").count() == 1


def test_a_message_sent_from_the_phone_is_stored_as_ours_and_sent(session: WhatsAppSession) -> None:
    own = received("3A5F0001", sender_jid="15550100001@s.whatsapp.net", sender_phone="+15550100001",
                   content={"text": "typed on the phone"})  # fmt: skip

    ingest(session, "message.own_device", own)

    [message] = Message.objects.filter(session=session)
    assert (message.direction, message.status, message.unread) == (Direction.OUTBOUND, MessageStatus.SENT, False)
    assert message.sent_at == message.timestamp == T0
    assert (message.chat_jid, message.sender_phone) == (PEER_JID, "+15550100001")
    published = list(Event.objects.values_list("type", flat=True))
    assert published == ["message.sent_elsewhere"]  # never message.received: no bot answers its own account


def test_receipts_move_a_message_sent_from_the_phone_on(session: WhatsAppSession) -> None:
    ingest(session, "message.own_device", received("3A5F0002", sender_jid="15550100001@s.whatsapp.net"))

    ingest(session, "message.receipt", {"type": "read", "wa_ids": ["3A5F0002"], "timestamp": at(2)})

    assert Message.objects.get(wa_id="3A5F0002").status == MessageStatus.READ
    assert list(Event.objects.values_list("type", flat=True).order_by("created_at")) == [
        "message.sent_elsewhere", "message.status",
    ]  # fmt: skip


def test_a_reaction_from_the_phone_changes_the_message_it_refers_to(session: WhatsAppSession) -> None:
    theirs = inbound(session, "3EB0THEIRS")
    reaction = received("3A5F0003", sender_jid="15550100001@s.whatsapp.net", type="reaction",
                        content={"emoji": "👍"}, target={"wa_id": "3EB0THEIRS"})  # fmt: skip

    ingest(session, "message.own_device", reaction)

    assert reloaded(theirs).reactions == {"15550100001@s.whatsapp.net": "👍"}
    assert list(Event.objects.values_list("type", flat=True)) == ["message.reaction"]


def _message_statements(statements: list[dict[str, str]]) -> list[str]:
    return [q["sql"].split(" ")[0] for q in statements if '"sessions_app_message"' in q["sql"].split(" WHERE ")[0]]


def test_sent_and_a_receipt_each_change_the_message_in_one_statement_and_publish_it(session: WhatsAppSession) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    messages = [MessageFactory.create(session=session) for _ in range(2)]
    with CaptureQueriesContext(connection) as sent_queries:
        for n, message in enumerate(messages):
            ingest(session, "message.sent", {"message_id": str(message.pk), "wa_id": f"3EB0S{n}", "timestamp": at(1)})
    with CaptureQueriesContext(connection) as receipt_queries:
        ingest(session, "message.receipt", {"type": "delivered", "wa_ids": ["3EB0S0", "3EB0S1"], "timestamp": at(2)})

    assert _message_statements(sent_queries.captured_queries) == ["UPDATE", "UPDATE"]  # no SELECT … FOR UPDATE
    assert _message_statements(receipt_queries.captured_queries) == ["UPDATE"]  # both messages in one
    assert {reloaded(m).status for m in messages} == {MessageStatus.DELIVERED}
    published = [e.envelope["data"] for e in Event.objects.filter(type="message.status").order_by("created_at")]
    newest_first = [str(messages[1].pk), str(messages[0].pk)]
    assert [(data["id"], data["status"]) for data in published[-2:]] == [(pk, "delivered") for pk in newest_first]


def test_a_sent_event_with_an_id_that_is_not_ours_changes_nothing(session: WhatsAppSession) -> None:
    message = MessageFactory.create(session=session)
    ingest(session, "message.sent", {"message_id": "not-a-uuid", "wa_id": "3EB0X", "timestamp": at(1)})
    ingest(session, "message.sent", {"message_id": str(inbound(session, "3EB0IN").pk), "wa_id": "3EB0Y"})
    assert reloaded(message).status == MessageStatus.QUEUED
    assert reloaded(Message.objects.get(wa_id="3EB0IN")).status == MessageStatus.RECEIVED  # inbound never moves
