"""Idempotency-Key on send: within 24 hours the same key and body replay the first answer; another body is refused;
a repeat while the first is being handled is a conflict; errors are not remembered; keys are per workspace."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership, Workspace
from sessions_app.models import IdempotencyRecord, Message, WhatsAppSession
from sessions_app.tests.message_helpers import PEER_PHONE, connected_session
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db
HELLO = {"to": PEER_PHONE, "text": "hello"}


def send(client: APIClient, session: WhatsAppSession, body: dict[str, Any], key: str | None = "order-42") -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/sessions/{session.pk}/messages", body, format="json", **headers)


def test_the_same_key_and_body_twice_create_one_message(client: APIClient, session: WhatsAppSession) -> None:
    first = send(client, session, HELLO)
    second = send(client, session, {"text": "hello", "to": PEER_PHONE})  # same body, other key order

    assert first.status_code == second.status_code == 202, (first.content, second.content)
    assert second.json()["id"] == first.json()["id"]
    assert second.json() == first.json()
    assert list(Message.objects.values_list("pk", flat=True)) == [Message.objects.get().pk]
    assert str(Message.objects.get().pk) == first.json()["id"]


def test_without_a_key_the_same_body_twice_creates_two_messages(client: APIClient, session: WhatsAppSession) -> None:
    first = send(client, session, HELLO, key=None)
    second = send(client, session, HELLO, key=None)

    assert first.json()["id"] != second.json()["id"]
    assert Message.objects.count() == 2


def test_the_same_key_with_another_body_is_refused(client: APIClient, session: WhatsAppSession) -> None:
    first = send(client, session, HELLO)

    response = send(client, session, {**HELLO, "text": "hello again"})

    assert_api_error(response, 422, "idempotency_key_reused")
    assert list(Message.objects.values_list("pk", flat=True)) == [Message.objects.get(pk=first.json()["id"]).pk]


def test_the_same_key_and_body_on_another_session_is_refused(
    workspace: Workspace, client: APIClient, session: WhatsAppSession
) -> None:
    send(client, session, HELLO)
    other = connected_session(workspace=workspace)

    assert_api_error(send(client, other, HELLO), 422, "idempotency_key_reused")
    assert not Message.objects.filter(session=other).exists()


def test_a_repeat_while_the_first_is_in_flight_is_a_conflict(client: APIClient, session: WhatsAppSession) -> None:
    first = send(client, session, HELLO)
    # As if the first request were still being handled: its record holds no answer yet.
    IdempotencyRecord.objects.filter(key="order-42").update(response_status=None, response_body=None)

    response = send(client, session, HELLO)

    assert_api_error(response, 409, "idempotency_in_flight")
    assert list(Message.objects.values_list("pk", flat=True)) == [Message.objects.get(pk=first.json()["id"]).pk]


def test_a_record_older_than_a_day_is_ignored(client: APIClient, session: WhatsAppSession) -> None:
    first = send(client, session, HELLO)
    IdempotencyRecord.objects.filter(key="order-42").update(created_at=timezone.now() - timedelta(hours=24, minutes=1))

    second = send(client, session, HELLO)

    assert second.status_code == 202, second.content
    assert second.json()["id"] != first.json()["id"]
    assert Message.objects.count() == 2
    record = IdempotencyRecord.objects.get(key="order-42")
    assert record.response_body is not None
    assert record.response_body["id"] == second.json()["id"]


def test_a_record_younger_than_a_day_still_replays(client: APIClient, session: WhatsAppSession) -> None:
    first = send(client, session, HELLO)
    IdempotencyRecord.objects.filter(key="order-42").update(created_at=timezone.now() - timedelta(hours=23))

    second = send(client, session, HELLO)

    assert second.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1


def test_an_error_is_not_remembered_so_the_corrected_retry_succeeds(
    client: APIClient, session: WhatsAppSession
) -> None:
    refused = send(client, session, {**HELLO, "to": "abc@example.com"})
    assert_api_error(refused, 400, "invalid_recipient")
    assert not IdempotencyRecord.objects.exists()

    corrected = send(client, session, HELLO)

    assert corrected.status_code == 202, corrected.content
    assert str(Message.objects.get().pk) == corrected.json()["id"]


def test_keys_are_per_workspace(
    workspace: Workspace, client: APIClient, session: WhatsAppSession, outsider: Membership, api_client_for: Any
) -> None:
    theirs = connected_session(workspace=outsider.workspace)
    their_client: APIClient = api_client_for(outsider.workspace).client

    other = send(their_client, theirs, HELLO)
    ours = send(client, session, HELLO)
    again = send(client, session, HELLO)

    assert ours.status_code == other.status_code == again.status_code == 202, (ours.content, other.content)
    assert ours.json()["id"] != other.json()["id"]
    assert again.json()["id"] == ours.json()["id"]  # our own record replays, not the other workspace's
    assert Message.objects.get(pk=other.json()["id"]).workspace == outsider.workspace
    assert IdempotencyRecord.objects.filter(key="order-42").count() == 2


def test_a_key_longer_than_200_characters_is_refused(client: APIClient, session: WhatsAppSession) -> None:
    assert_api_error(send(client, session, HELLO, key="k" * 201), 400, "invalid_idempotency_key")
    assert not Message.objects.exists()
