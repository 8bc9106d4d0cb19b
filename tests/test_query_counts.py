"""Query counts of the hottest endpoints, through HTTP: a send, and an ingest batch whose count does not grow with
the number of events in it (each kind of message event is one statement per batch, whatever its size)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Workspace
from sessions_app.models import Message, MessageStatus, WhatsAppSession
from sessions_app.tests.message_helpers import PEER_JID, PEER_PHONE, MessageFactory, connected_session
from workers_app.tests.factories import worker_with_token

pytestmark = pytest.mark.django_db
EVENTS = "/internal/v1/events"
# The API key, the session, the INSERT (the throttle is in Redis; the hand-over runs after commit, in Celery).
SEND_QUERIES = 3
# Per batch, whatever its size: the worker, the batch's sessions, one statement per kind of message event (received,
# sent, each receipt status), the webhook endpoints, one INSERT each for the session events, the events and their
# deliveries, and the batch's transaction (a savepoint here, inside the test's).
BATCH_QUERIES = 11


@pytest.fixture
def hosted(workspace: Workspace) -> tuple[WhatsAppSession, str]:
    """A connected session, and the token of the worker running it."""
    worker, raw = worker_with_token()
    return connected_session(workspace=workspace, worker=worker), raw


@pytest.fixture
def api(workspace: Workspace, api_client_for: Callable[..., Any]) -> APIClient:
    client: APIClient = api_client_for(workspace).client
    return client


def envelope(session: WhatsAppSession, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "session_id": str(session.pk), "epoch": session.epoch, "type": kind,
            "occurred_at": timezone.now().isoformat(), "data": data}  # fmt: skip


def post_batch(raw_token: str, events: list[dict[str, Any]]) -> int:
    """Post the batch as the worker; the number of queries it took."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(EVENTS, {"events": events}, format="json")
    assert response.status_code == 200, response.content
    assert len(response.json()["accepted"]) == len(events), response.content
    return len(queries.captured_queries)


def received(session: WhatsAppSession, n: int, tag: str) -> dict[str, Any]:
    return envelope(session, "message.received", {
        "wa_id": f"3EBIN{tag}{n}", "chat_jid": PEER_JID, "sender_jid": PEER_JID, "sender_phone": PEER_PHONE,
        "type": "text", "content": {"text": f"hi {n}"}, "timestamp": timezone.now().isoformat(),
    })  # fmt: skip


def mixed_batch(session: WhatsAppSession, size: int, tag: str) -> list[dict[str, Any]]:
    """``size`` of each: messages received, our queued messages sent, and sent ones delivered."""
    queued = [MessageFactory.create(session=session) for _ in range(size)]
    sent = [MessageFactory.create(session=session, status=MessageStatus.SENT, wa_id=f"3EBOUT{tag}{n}")
            for n in range(size)]  # fmt: skip
    now = timezone.now().isoformat()
    return [
        *(received(session, n, tag) for n in range(size)),
        *(envelope(session, "message.sent", {"message_id": str(m.pk), "wa_id": f"3EBSENT{tag}{n}", "timestamp": now})
          for n, m in enumerate(queued)),
        *(envelope(session, "message.receipt", {"type": "delivered", "wa_ids": [m.wa_id], "timestamp": now})
          for m in sent),
    ]  # fmt: skip


def test_a_send_takes_a_fixed_number_of_queries(
    api: APIClient, hosted: tuple[WhatsAppSession, str], django_assert_max_num_queries: Any
) -> None:
    session, _ = hosted
    api.post(f"/api/v1/sessions/{session.pk}/messages", {"to": PEER_PHONE, "text": "warm"}, format="json")

    with django_assert_max_num_queries(SEND_QUERIES):
        response = api.post(f"/api/v1/sessions/{session.pk}/messages", {"to": PEER_PHONE, "text": "hi"}, format="json")

    assert response.status_code == 202, response.content
    assert Message.objects.filter(session=session, status=MessageStatus.QUEUED).count() == 2


@pytest.mark.parametrize("kind", ["received", "mixed"])
def test_an_event_batch_takes_as_many_queries_for_fifty_events_as_for_one(
    hosted: tuple[WhatsAppSession, str], api: APIClient, settings: Any, kind: str
) -> None:
    session, raw = hosted
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = True  # the endpoint is on loopback; nothing is delivered here
    created = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/in", "event_types": ["message.received"]},
                       format="json")  # fmt: skip
    assert created.status_code == 201, created.content

    def batch(size: int, tag: str) -> list[dict[str, Any]]:
        if kind == "received":
            return [received(session, n, tag) for n in range(size)]
        return mixed_batch(session, size, tag)

    counts = {size: post_batch(raw, batch(size, f"S{size}")) for size in (1, 5, 50)}

    assert counts[1] == counts[5] == counts[50] <= BATCH_QUERIES, counts
    assert Message.objects.filter(session=session, direction="in").count() == 56
