"""Reading messages: a session's history (filtered, cursor-paginated, newest first), one message, and the chats
list with each chat's last message and unread count; all only within the caller's workspace."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership
from sessions_app.models import Message, MessageStatus, WhatsAppSession
from sessions_app.tests.message_helpers import PEER_JID, MessageFactory, connected_session, inbound
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db
OTHER_JID = "15550100003@s.whatsapp.net"
GROUP_JID = "120363025555555555@g.us"


def ago(minutes: int) -> Any:
    return timezone.now() - timedelta(minutes=minutes)


def ids(messages: list[Message]) -> list[str]:
    return [str(m.pk) for m in messages]


def listed(client: APIClient, session: WhatsAppSession, **params: Any) -> list[str]:
    """Every message id the history lists for ``params``, following ``next`` to the end."""
    response = client.get(f"/api/v1/sessions/{session.pk}/messages", params)
    assert response.status_code == 200, response.content
    found = [m["id"] for m in response.json()["results"]]
    while response.json()["next"]:
        response = client.get(response.json()["next"])
        assert response.status_code == 200, response.content
        found += [m["id"] for m in response.json()["results"]]
    return found


def test_the_history_lists_the_sessions_messages_newest_first(client: APIClient, session: WhatsAppSession) -> None:
    messages = [MessageFactory.create(session=session, created_at=ago(m)) for m in (30, 20, 10)]
    MessageFactory.create(session=connected_session(workspace=session.workspace))

    assert listed(client, session) == ids(messages)[::-1]


def test_the_history_pages_with_a_cursor_without_gaps_or_repeats(client: APIClient, session: WhatsAppSession) -> None:
    messages = [MessageFactory.create(session=session, created_at=ago(m)) for m in range(7, 0, -1)]

    first = client.get(f"/api/v1/sessions/{session.pk}/messages", {"page_size": 3}).json()

    assert len(first["results"]) == 3
    assert first["previous"] is None
    assert "cursor=" in first["next"]
    assert listed(client, session, page_size=3) == ids(messages)[::-1]


def test_the_history_filters_by_chat(client: APIClient, session: WhatsAppSession) -> None:
    in_chat = [MessageFactory.create(session=session, chat_jid=OTHER_JID, created_at=ago(m)) for m in (2, 1)]
    MessageFactory.create(session=session, chat_jid=PEER_JID)

    assert listed(client, session, chat=OTHER_JID) == ids(in_chat)[::-1]


def test_the_history_filters_by_direction(client: APIClient, session: WhatsAppSession) -> None:
    received = inbound(session, "3EB0IN")
    sent = MessageFactory.create(session=session)

    assert listed(client, session, direction="in") == ids([received])
    assert listed(client, session, direction="out") == ids([sent])


def test_the_history_filters_by_status(client: APIClient, session: WhatsAppSession) -> None:
    MessageFactory.create(session=session)
    failed = MessageFactory.create(session=session, status=MessageStatus.FAILED)

    assert listed(client, session, status="failed") == ids([failed])


def test_the_history_filters_by_time(client: APIClient, session: WhatsAppSession) -> None:
    old, middle, new = (MessageFactory.create(session=session, created_at=ago(m)) for m in (60, 30, 5))

    assert listed(client, session, since=ago(45).isoformat()) == ids([new, middle])
    assert listed(client, session, until=ago(45).isoformat()) == ids([old])
    assert listed(client, session, since=ago(45).isoformat(), until=ago(10).isoformat()) == ids([middle])


def test_since_includes_and_until_excludes_the_moment_given(client: APIClient, session: WhatsAppSession) -> None:
    moment = ago(30)
    at_moment = MessageFactory.create(session=session, created_at=moment)

    assert listed(client, session, since=moment.isoformat()) == ids([at_moment])
    assert listed(client, session, until=moment.isoformat()) == []


def test_the_history_combines_filters(client: APIClient, session: WhatsAppSession) -> None:
    wanted = inbound(session, "3EB0A", chat_jid=GROUP_JID, created_at=ago(5))
    inbound(session, "3EB0B", chat_jid=GROUP_JID, created_at=ago(50))
    inbound(session, "3EB0C", created_at=ago(5))
    MessageFactory.create(session=session, chat_jid=GROUP_JID, created_at=ago(5))

    assert listed(client, session, chat=GROUP_JID, direction="in", since=ago(10).isoformat()) == ids([wanted])


def test_a_message_is_returned_with_its_details(client: APIClient, session: WhatsAppSession) -> None:
    quoted = MessageFactory.create(session=session, status=MessageStatus.SENT, wa_id="3EB0Q")
    reply = inbound(session, "3EB0R", reply_to=quoted, push_name="Bea")

    response = client.get(f"/api/v1/messages/{reply.pk}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["session"], body["direction"], body["reply_to"]) == (
        str(reply.pk), str(session.pk), "in", str(quoted.pk),
    )  # fmt: skip
    assert body["sender"] == {"jid": reply.sender_jid, "phone": reply.sender_phone, "push_name": "Bea"}
    assert body["media"] is None


def test_another_workspaces_message_is_not_found(client: APIClient, outsider: Membership) -> None:
    theirs = MessageFactory.create(session=connected_session(workspace=outsider.workspace))

    assert_api_error(client.get(f"/api/v1/messages/{theirs.pk}"), 404, "not_found")


@pytest.mark.parametrize("path", ["messages", "chats"])
def test_another_workspaces_session_history_is_not_found(client: APIClient, outsider: Membership, path: str) -> None:
    theirs = connected_session(workspace=outsider.workspace)
    MessageFactory.create(session=theirs)

    assert_api_error(client.get(f"/api/v1/sessions/{theirs.pk}/{path}"), 404, "not_found")


def test_chats_list_each_chat_once_with_its_last_message_and_unread_count_latest_first(
    client: APIClient, session: WhatsAppSession
) -> None:
    inbound(session, "3EB0A1", created_at=ago(50))
    inbound(session, "3EB0A2", created_at=ago(40))
    inbound(session, "3EB0A3", created_at=ago(30), unread=False)
    last_in_peer = MessageFactory.create(session=session, created_at=ago(20))
    last_in_group = inbound(session, "3EB0G1", chat_jid=GROUP_JID, sender_jid=OTHER_JID, created_at=ago(10))
    MessageFactory.create(session=connected_session(workspace=session.workspace), chat_jid=OTHER_JID)

    response = client.get(f"/api/v1/sessions/{session.pk}/chats")

    assert response.status_code == 200, response.content
    chats = response.json()["results"]
    assert [(c["chat_jid"], c["unread"], c["last_message"]["id"]) for c in chats] == [
        (GROUP_JID, 1, str(last_in_group.pk)),
        (PEER_JID, 2, str(last_in_peer.pk)),
    ]


def test_the_chats_list_takes_the_same_number_of_queries_for_one_chat_or_twenty(
    client: APIClient, session: WhatsAppSession
) -> None:
    def queries_for_chats() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/v1/sessions/{session.pk}/chats").status_code == 200
        return len(queries.captured_queries)

    inbound(session, "3EB0ONE")
    queries_for_chats()  # the first request of a key also records when it was last used
    one = queries_for_chats()
    for n in range(19):
        inbound(
            session, f"3EB0C{n}", chat_jid=f"1555020{n:04d}@s.whatsapp.net", sender_jid=f"1555020{n:04d}@s.whatsapp.net"
        )
    assert queries_for_chats() == one


@pytest.mark.parametrize(("name", "value"), [("since", "yesterday"), ("until", "2026-13-45T00:00:00Z")])
def test_a_time_filter_that_is_not_a_time_is_a_validation_error(
    client: APIClient, session: WhatsAppSession, name: str, value: str
) -> None:
    response = client.get(f"/api/v1/sessions/{session.pk}/messages", {name: value})

    error = assert_api_error(response, 400, "validation_error")
    assert name in error["details"]
