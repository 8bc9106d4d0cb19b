"""POST /internal/v1/events refuses a malformed batch as a whole: 400, and nothing is stored or applied."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from sessions_app.models import SessionEvent, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from workers_app.tests.factories import worker_with_token
from workers_app.tests.helpers import assert_api_error, worker_client

pytestmark = pytest.mark.django_db
EVENTS = "/internal/v1/events"


def qr_event(session: WhatsAppSession) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "session_id": str(session.pk),
        "epoch": session.epoch,
        "type": "session.qr",
        "occurred_at": timezone.now().isoformat(),
        "data": {"code": "2@abc"},
    }


def _without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda event: {k: v for k, v in event.items() if k != key}


def _with(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda event: {**event, **changes}


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(_with(id="not-a-uuid"), id="bad-event-id"),
        pytest.param(_with(session_id="42"), id="bad-session-id"),
        pytest.param(_with(type="qr"), id="type-without-dot"),
        pytest.param(_with(type="Session.QR"), id="type-in-capitals"),
        pytest.param(_with(type="session.qr; drop"), id="type-with-junk"),
        pytest.param(_with(type="session." + "x" * 60), id="type-too-long"),
        pytest.param(_without("epoch"), id="missing-epoch"),
        pytest.param(_with(epoch=-1), id="negative-epoch"),
        pytest.param(_with(epoch="one"), id="epoch-not-a-number"),
        pytest.param(_without("occurred_at"), id="missing-occurred-at"),
        pytest.param(_with(occurred_at="yesterday"), id="bad-occurred-at"),
        pytest.param(_with(data=["not", "an", "object"]), id="data-not-an-object"),
    ],
)
def test_a_batch_with_a_malformed_event_is_refused_whole(spoil: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    worker, raw = worker_with_token()
    session = SessionFactory.create(worker=worker, epoch=1, state=SessionState.STARTING)
    good, bad = qr_event(session), spoil(qr_event(session))

    response = worker_client(raw).post(EVENTS, {"events": [good, bad]}, format="json")

    error = assert_api_error(response, 400, "validation_error")
    assert "events" in error["details"]
    assert not SessionEvent.objects.exists()
    session.refresh_from_db()
    assert session.state == SessionState.STARTING
    assert session.qr_code == ""


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"events": []}, id="empty-list"),
        pytest.param({}, id="missing-events"),
        pytest.param({"events": {"id": "x"}}, id="events-an-object"),
        pytest.param({"events": "lots"}, id="events-a-string"),
        pytest.param({"events": [42]}, id="event-not-an-object"),
    ],
)
def test_a_batch_that_is_not_a_list_of_events_is_refused(body: dict[str, Any]) -> None:
    _, raw = worker_with_token()

    response = worker_client(raw).post(EVENTS, body, format="json")

    error = assert_api_error(response, 400, "validation_error")
    assert "events" in error["details"]


def test_a_well_formed_batch_is_accepted() -> None:
    worker, raw = worker_with_token()
    session = SessionFactory.create(worker=worker, epoch=1, state=SessionState.STARTING)
    event = qr_event(session)

    response = worker_client(raw).post(EVENTS, {"events": [event]}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == [event["id"]]
