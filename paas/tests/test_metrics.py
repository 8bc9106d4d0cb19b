"""GET /metrics: the platform's state for Prometheus, only with the metrics token, read from the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from sessions_app.models import Delivery, DeliveryStatus, Direction, MessageStatus, SessionState
from sessions_app.services.customer_events.publish import publish_event
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.message_helpers import MessageFactory, connected_session
from sessions_app.tests.webhook_helpers import endpoint_for
from workers_app.models import WorkerState
from workers_app.tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-0123456789"


def scrape(authorization: str | None = f"Bearer {TOKEN}") -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    with override_settings(METRICS_TOKEN=TOKEN):
        return Client().get("/metrics", headers=headers)


def samples(response: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_without_a_metrics_token_configured_there_is_no_endpoint() -> None:
    with override_settings(METRICS_TOKEN=""):
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_a_scrape_without_the_token_is_refused(authorization: str | None) -> None:
    response = scrape(authorization)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"switchboard" not in response.content


def test_workers_sessions_outbox_and_deliveries_are_counted() -> None:
    WorkerFactory.create(name="w-active", load=3, capacity=10, events_refused=7)
    WorkerFactory.create(name="w-draining", state=WorkerState.DRAINING)
    WorkerFactory.create(name="w-revoked", state=WorkerState.REVOKED)
    session = connected_session()
    SessionFactory.create(state=SessionState.PENDING, worker=None)
    MessageFactory.create(session=session, created_at=timezone.now() - timedelta(minutes=5))
    MessageFactory.create(session=session)
    MessageFactory.create(session=session, status=MessageStatus.SENT)
    MessageFactory.create(session=session, direction=Direction.INBOUND, status=MessageStatus.RECEIVED)
    event = publish_event(workspace_id=session.workspace_id, session=session, kind="message.received", data={})
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        endpoint = endpoint_for(session.workspace, "http://127.0.0.1:9/hook")
    long_ago = timezone.now() - timedelta(minutes=10)
    Delivery.objects.create(workspace_id=session.workspace_id, endpoint=endpoint, event=event, next_attempt_at=long_ago)
    Delivery.objects.create(workspace_id=session.workspace_id, endpoint=endpoint, event=event,
                            next_attempt_at=timezone.now() + timedelta(minutes=5))  # fmt: skip
    Delivery.objects.create(workspace_id=session.workspace_id, endpoint=endpoint, event=event,
                            status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)  # fmt: skip

    response = scrape()

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    found = samples(response)
    assert found[("switchboard_workers", (("state", "active"),))] == 2  # the session's worker too
    assert found[("switchboard_workers", (("state", "draining"),))] == 1
    assert found[("switchboard_workers", (("state", "revoked"),))] == 1
    assert found[("switchboard_worker_load", (("state", "active"), ("worker", "w-active")))] == 3
    assert found[("switchboard_worker_capacity", (("state", "active"), ("worker", "w-active")))] == 10
    assert found[("switchboard_worker_events_refused_total", (("state", "active"), ("worker", "w-active")))] == 7
    assert not [key for key in found if ("worker", "w-revoked") in key[1]]  # revoked workers are history
    assert found[("switchboard_sessions", (("engine", "sandbox"), ("state", "connected")))] == 1
    assert found[("switchboard_sessions", (("engine", "sandbox"), ("state", "pending")))] == 1
    assert found[("switchboard_sessions", (("engine", "sandbox"), ("state", "failed")))] == 0
    assert found[("switchboard_outbox_queued_messages", ())] == 2
    assert 300 <= found[("switchboard_outbox_oldest_queued_seconds", ())] < 400
    assert found[("switchboard_webhook_deliveries_waiting", ())] == 2
    assert found[("switchboard_webhook_deliveries_overdue", ())] == 1


def test_an_empty_outbox_has_no_oldest_message() -> None:
    found = samples(scrape())
    assert found[("switchboard_outbox_queued_messages", ())] == 0
    assert found[("switchboard_outbox_oldest_queued_seconds", ())] == 0
