"""POST /api/v1/sessions/{id}/messages/read: read receipts go to the worker once per (chat, sender), as WhatsApp
wants them, and the messages are no longer unread."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership, Workspace
from sessions_app.models import Message, SessionState, WhatsAppSession
from sessions_app.tests.message_helpers import PEER_JID, MessageFactory, connected_session, inbound
from workers_app.client import WorkerUnavailable
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db
CALL_WORKER = "workers_app.client.call_worker"
GROUP_JID = "120363025555555555@g.us"
ANN, BOB = "15550100003@s.whatsapp.net", "15550100004@s.whatsapp.net"


def mark_read(client: APIClient, session: WhatsAppSession, messages: list[Message]) -> Any:
    body = {"message_ids": [str(m.pk) for m in messages]}
    return client.post(f"/api/v1/sessions/{session.pk}/messages/read", body, format="json")


def unread(*messages: Message) -> list[bool]:
    return [Message.objects.get(pk=m.pk).unread for m in messages]


def test_marking_read_sends_one_receipt_per_chat_and_sender_and_clears_unread(
    client: APIClient, session: WhatsAppSession
) -> None:
    direct = [inbound(session, "3EB0D1"), inbound(session, "3EB0D2")]
    from_ann = [inbound(session, f"3EB0A{n}", chat_jid=GROUP_JID, sender_jid=ANN) for n in (1, 2)]
    from_bob = inbound(session, "3EB0B1", chat_jid=GROUP_JID, sender_jid=BOB)
    untouched = inbound(session, "3EB0U1")

    with patch(CALL_WORKER, return_value={}) as call:
        response = mark_read(client, session, [*direct, *from_ann, from_bob])

    assert response.status_code == 200, response.content
    assert sorted(response.json()["marked"]) == sorted(str(m.pk) for m in [*direct, *from_ann, from_bob])
    receipts = sorted(
        (c.args[2]["chat_jid"], c.args[2]["sender_jid"], sorted(c.args[2]["wa_ids"])) for c in call.call_args_list
    )
    assert receipts == [
        (GROUP_JID, ANN, ["3EB0A1", "3EB0A2"]),
        (GROUP_JID, BOB, ["3EB0B1"]),
        (PEER_JID, PEER_JID, ["3EB0D1", "3EB0D2"]),
    ]
    assert {c.args[0] for c in call.call_args_list} == {session.worker}
    assert {c.args[1] for c in call.call_args_list} == {f"/sessions/{session.pk}/mark-read"}
    assert unread(*direct, *from_ann, from_bob) == [False] * 5
    assert unread(untouched) == [True]


def test_our_own_and_other_sessions_messages_are_not_marked(client: APIClient, session: WhatsAppSession) -> None:
    ours = MessageFactory.create(session=session, unread=True)
    elsewhere = inbound(connected_session(workspace=session.workspace), "3EB0X")

    with patch(CALL_WORKER, return_value={}) as call:
        response = mark_read(client, session, [ours, elsewhere])

    assert response.json()["marked"] == []
    assert call.call_count == 0
    assert unread(ours, elsewhere) == [True, True]


def test_marking_read_on_a_session_that_is_not_connected_is_a_conflict(workspace: Workspace, client: APIClient) -> None:
    away = connected_session(workspace=workspace, state=SessionState.RECONNECTING)
    message = inbound(away, "3EB0D1")

    with patch(CALL_WORKER, return_value={}) as call:
        assert_api_error(mark_read(client, away, [message]), 409, "session_not_connected")

    assert call.call_count == 0
    assert unread(message) == [True]


def test_an_unreachable_worker_leaves_the_messages_unread(client: APIClient, session: WhatsAppSession) -> None:
    message = inbound(session, "3EB0D1")

    with patch(CALL_WORKER, side_effect=WorkerUnavailable()):
        assert_api_error(mark_read(client, session, [message]), 503, "worker_unavailable")

    assert unread(message) == [True]


def test_another_workspaces_session_is_not_found(client: APIClient, outsider: Membership) -> None:
    theirs = connected_session(workspace=outsider.workspace)
    message = inbound(theirs, "3EB0D1")

    with patch(CALL_WORKER, return_value={}) as call:
        assert_api_error(mark_read(client, theirs, [message]), 404, "not_found")

    assert call.call_count == 0
    assert unread(message) == [True]
