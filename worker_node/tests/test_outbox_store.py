"""The worker's outbox on disk: order survives a reopen, a message id enters once, and a message left "sending" by a
crash is reported as interrupted instead of being sent again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from worker_node.outbox import Outbox

SESSION, OTHER = "session-a", "session-b"


def message(text: str, message_id: str | None = None) -> dict[str, Any]:
    return {"id": message_id or str(uuid.uuid4()), "type": "text", "content": {"text": text}}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "outbox.sqlite3"


@pytest.fixture
def outbox(path: Path) -> Iterator[Outbox]:
    opened = Outbox(path)
    yield opened
    opened.close()


def drain(outbox: Outbox, session_id: str) -> list[str]:
    """Take every queued message of the session, in the order the send loop would, marking each sent."""
    taken = []
    while (next_message := outbox.next_queued(session_id)) is not None:
        taken.append(next_message["content"]["text"])
        outbox.mark(next_message["id"], "sent", "3EB0" + next_message["id"][:8])
    return taken


def test_messages_come_out_in_the_order_they_went_in_across_a_reopen(path: Path) -> None:
    first = Outbox(path)
    first.enqueue(SESSION, [message("one"), message("two")])
    first.enqueue(SESSION, [message("three")])
    first.close()

    reopened = Outbox(path)
    try:
        assert drain(reopened, SESSION) == ["one", "two", "three"]
    finally:
        reopened.close()


def test_each_session_has_its_own_queue(outbox: Outbox) -> None:
    outbox.enqueue(SESSION, [message("a1")])
    outbox.enqueue(OTHER, [message("b1")])
    outbox.enqueue(SESSION, [message("a2")])

    assert drain(outbox, OTHER) == ["b1"]
    assert drain(outbox, SESSION) == ["a1", "a2"]


def test_a_repeated_message_id_is_ignored(outbox: Outbox) -> None:
    repeated = message("original")
    outbox.enqueue(SESSION, [repeated, message("second")])

    accepted = outbox.enqueue(SESSION, [message("changed", repeated["id"])])

    assert accepted == [repeated["id"]]  # known here, so the gateway counts it as handed over
    assert drain(outbox, SESSION) == ["original", "second"]


def test_a_message_already_sent_is_not_queued_again(outbox: Outbox) -> None:
    once = message("once")
    outbox.enqueue(SESSION, [once])
    assert drain(outbox, SESSION) == ["once"]

    outbox.enqueue(SESSION, [once])  # the gateway offers it again (e.g. after an epoch change)

    assert outbox.next_queued(SESSION) is None


def test_marks_move_a_message_out_of_the_queue_and_keep_its_whatsapp_id(outbox: Outbox) -> None:
    sent, failed, sending = message("sent"), message("failed"), message("sending")
    outbox.enqueue(SESSION, [sent, failed, sending, message("left")])

    outbox.mark(sent["id"], "sent", "3EB0SENT")
    outbox.mark(failed["id"], "failed")
    outbox.mark(sending["id"], "sending")

    assert drain(outbox, SESSION) == ["left"]
    assert outbox.wa_id(sent["id"]) == "3EB0SENT"
    assert outbox.wa_id(failed["id"]) == ""
    assert outbox.wa_id("unknown") == ""


def test_a_message_put_back_to_queued_goes_out_first(outbox: Outbox) -> None:
    first = message("first")
    outbox.enqueue(SESSION, [first, message("second")])
    outbox.mark(first["id"], "sending")
    outbox.mark(first["id"], "queued")  # the engine was not connected: it never left

    assert drain(outbox, SESSION) == ["first", "second"]


def test_messages_left_sending_are_reported_as_interrupted_after_a_reopen(path: Path) -> None:
    first = Outbox(path)
    crashed, other_crashed, sent = message("crashed"), message("other"), message("sent")
    first.enqueue(SESSION, [crashed, sent, message("queued")])
    first.enqueue(OTHER, [other_crashed])
    first.mark(crashed["id"], "sending")
    first.mark(other_crashed["id"], "sending")
    first.mark(sent["id"], "sent", "3EB0X")
    first.close()

    reopened = Outbox(path)
    try:
        assert sorted(reopened.interrupted()) == sorted([(SESSION, crashed["id"]), (OTHER, other_crashed["id"])])
        assert drain(reopened, SESSION) == ["queued"]  # the interrupted one is not taken again
    finally:
        reopened.close()


def test_dropping_a_session_forgets_its_queued_messages_only(outbox: Outbox) -> None:
    sent = message("sent")
    outbox.enqueue(SESSION, [sent, message("queued")])
    outbox.enqueue(OTHER, [message("theirs")])
    outbox.mark(sent["id"], "sent", "3EB0S")

    outbox.drop_session(SESSION)

    assert outbox.next_queued(SESSION) is None
    assert outbox.wa_id(sent["id"]) == "3EB0S"
    assert drain(outbox, OTHER) == ["theirs"]
