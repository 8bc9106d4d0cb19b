"""Webhooks through the real gateway, Celery worker and sandbox workers: retries on the schedule, at-least-once
delivery when the Celery worker dies mid-attempt, and a message from one session to another reaching the receiver
signed so that the Standard Webhooks library verifies it."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from sessions_app.models import WhatsAppSession
from sessions_app.tests.webhook_helpers import Received, Receiver, Reply, receiver
from tests.fixtures.platform import Platform

pytestmark = pytest.mark.e2e

A_PHONE, B_PHONE = "+15550100001", "+15550100002"


def fast_celery(platform: Platform, *, beat: bool = False) -> None:
    """A Celery worker retrying 0.2 s apart, whose leases run out after 5 s."""
    platform.start_celery(beat=beat, WEBHOOK_RETRY_SCHEDULE="0,0.2,0.2,0.2,0.2", WEBHOOK_LEASE_SECONDS="5")


def endpoint(platform: Platform, hook: Receiver, **fields: Any) -> dict[str, Any]:
    created = platform.api.post("/webhooks", json={"url": hook.url(), **fields})
    assert created.status_code == 201, created.text
    return dict(created.json())


def request_test_event(platform: Platform, endpoint_id: str) -> str:
    """Ask for a test event; the id of its delivery."""
    response = platform.api.post(f"/webhooks/{endpoint_id}/test")
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def verified(secret: str, requests: list[Received]) -> list[dict[str, Any]]:
    """What a receiver accepts: each body verified by the reference library, deduplicated by webhook-id."""
    seen: dict[str, dict[str, Any]] = {}
    for request in requests:
        seen.setdefault(request.webhook_id, Webhook(secret).verify(request.body, request.headers))
    return list(seen.values())


def test_a_receiver_failing_three_times_gets_the_event_from_the_celery_worker_on_the_fourth(
    platform: Platform,
) -> None:
    platform.stop_celery()
    fast_celery(platform)
    with receiver(Reply(500), Reply(500), Reply(500)) as hook:
        created = endpoint(platform, hook)
        delivery_id = request_test_event(platform, created["id"])

        delivery = platform.wait_for(f"/deliveries/{delivery_id}", lambda d: d["status"] == "succeeded", timeout=30)

    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500, 200]
    assert delivery["attempt_count"] == 4
    assert len(hook.requests) == 4
    [event] = verified(created["secret"], hook.requests)
    assert event == delivery["event"]
    assert event["type"] == "webhook.test"


def test_a_delivery_survives_the_celery_worker_dying_mid_attempt(platform: Platform) -> None:
    platform.stop_celery()
    fast_celery(platform)
    with receiver(Reply(200, hang=60)) as hook:
        created = endpoint(platform, hook)
        delivery_id = request_test_event(platform, created["id"])
        hook.wait_for(1, timeout=20)  # the worker is inside the attempt, waiting for the answer

        platform.stop_celery(signal.SIGKILL)
        assert platform.api.get(f"/deliveries/{delivery_id}").json()["attempt_count"] == 0
        fast_celery(platform, beat=True)  # a fresh worker, and the sweep once the lease has run out

        delivery = platform.wait_for(f"/deliveries/{delivery_id}", lambda d: d["status"] == "succeeded", timeout=40)

    assert len(hook.requests) >= 2
    [event] = verified(created["secret"], hook.requests)  # at least once; once after deduplication
    assert event["id"] == delivery["event"]["id"] == hook.requests[0].webhook_id
    assert [a["status_code"] for a in delivery["attempts"]][-1] == 200


def test_a_message_from_a_to_b_reaches_bs_webhook_verified(platform: Platform) -> None:
    platform.start_worker("w1", WORKER_CAPACITY="1")
    platform.start_worker("w2", WORKER_CAPACITY="1")
    a = platform.link("A", A_PHONE, send_rate_per_minute=600)
    b = platform.link("B", B_PHONE, send_rate_per_minute=600)
    assert WhatsAppSession.objects.get(pk=a).worker_id != WhatsAppSession.objects.get(pk=b).worker_id
    with receiver() as hook:
        created = endpoint(platform, hook, event_types=["message.received"], session_ids=[b])

        sent = platform.api.post(f"/sessions/{a}/messages", json={"to": B_PHONE, "text": "hello over the wire"})
        assert sent.status_code == 202, sent.text
        hook.wait_for(1, timeout=30)
        platform.wait_for(f"/messages/{sent.json()['id']}", lambda m: m["status"] == "delivered", timeout=20)

    [event] = verified(created["secret"], hook.requests)
    assert event["type"] == "message.received"
    assert event["workspace"] == str(platform.workspace.pk)
    assert event["session"] == {"id": b, "name": "B", "phone": B_PHONE}
    assert event["data"]["content"]["text"] == "hello over the wire"
    assert event["data"]["sender"]["phone"] == A_PHONE
    assert event["data"]["direction"] == "in"
