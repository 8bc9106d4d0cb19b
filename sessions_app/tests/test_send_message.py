"""A valid send is stored as queued under its own id, answered 202, and handed to the outbox only after commit."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from sessions_app.models import Direction, Message, MessageStatus, WhatsAppSession
from sessions_app.tests.message_helpers import PEER_JID, PEER_PHONE, SESSION_JID, MessageFactory

pytestmark = pytest.mark.django_db


def send(client: APIClient, session: WhatsAppSession, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/sessions/{session.pk}/messages", body, format="json")


def test_a_text_message_is_queued_under_its_id_and_dispatched_after_commit(
    client: APIClient, session: WhatsAppSession, django_capture_on_commit_callbacks: Any
) -> None:
    with patch("sessions_app.tasks.dispatch_outbox.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = send(client, session, {"to": PEER_PHONE, "text": "hello"})
        assert not delay.called  # not before the message is committed
        for callback in callbacks:
            callback()

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    message = Message.objects.get(pk=body["id"])
    assert (message.session, message.workspace_id) == (session, session.workspace_id)
    assert (message.direction, message.type, message.status) == (Direction.OUTBOUND, "text", MessageStatus.QUEUED)
    assert message.chat_jid == body["chat_jid"] == PEER_JID
    assert message.content["text"] == "hello"
    assert message.sender_jid == SESSION_JID.split(":")[0] + "@s.whatsapp.net"  # the user, not one of its devices
    delay.assert_called_once_with(str(session.pk))


def test_a_queued_message_expires_after_the_requested_time(client: APIClient, session: WhatsAppSession) -> None:
    before = timezone.now()

    with patch("sessions_app.tasks.dispatch_outbox.delay"):
        response = send(client, session, {"to": PEER_PHONE, "text": "hello", "expires_in": 600})

    expires_at = parse_datetime(response.json()["expires_at"])
    assert expires_at is not None
    assert before + timedelta(seconds=600) <= expires_at <= timezone.now() + timedelta(seconds=600)


def test_a_jid_with_a_device_suffix_is_sent_to_the_users_chat(client: APIClient, session: WhatsAppSession) -> None:
    response = send(client, session, {"to": "15550100002:7@s.whatsapp.net", "text": "hi"})

    assert response.status_code == 202, response.content
    assert response.json()["chat_jid"] == PEER_JID


def test_a_reply_links_the_quoted_message_of_the_session(client: APIClient, session: WhatsAppSession) -> None:
    quoted = MessageFactory.create(session=session)

    response = send(client, session, {"to": PEER_PHONE, "text": "re", "reply_to": str(quoted.pk)})

    assert response.status_code == 202, response.content
    assert response.json()["reply_to"] == str(quoted.pk)
    assert Message.objects.get(pk=response.json()["id"]).reply_to == quoted


def test_a_reaction_to_a_message_of_another_chat_is_refused(client: APIClient, session: WhatsAppSession) -> None:
    elsewhere = MessageFactory.create(session=session, chat_jid="15550100003@s.whatsapp.net")
    count = Message.objects.count()

    response = send(
        client,
        session,
        {"to": PEER_PHONE, "type": "reaction", "reaction": {"message_id": str(elsewhere.pk), "emoji": "x"}},
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "target_in_other_chat"
    assert Message.objects.count() == count


def test_an_edit_of_a_message_that_does_not_exist_is_refused(client: APIClient, session: WhatsAppSession) -> None:
    response = send(client, session, {"to": PEER_PHONE, "type": "edit", "target": str(uuid.uuid4()), "text": "new"})

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "target_not_found"
    assert not Message.objects.exists()
