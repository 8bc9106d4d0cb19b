"""Signing: every delivery verifies with the Standard Webhooks reference library (not our code) under the endpoint's
secret; after a rotation the old and the new secret both verify for 24 hours, then only the new one."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.models import Workspace
from sessions_app.models import Event, WebhookEndpoint, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.webhook_helpers import Received, Receiver, drive, endpoint_for, only_delivery, publish

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_webhooks() -> Iterator[None]:
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True, WEBHOOK_RETRY_SCHEDULE=[0, 0.1]):
        yield


@pytest.fixture
def session(workspace: Workspace) -> WhatsAppSession:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace, name="Support", phone="+15550100009")
    return session


def deliver(session: WhatsAppSession, hook: Receiver, kind: str = "message.received") -> tuple[Event, Received]:
    event = publish(session, kind, text="hello")
    seen = len(hook.requests)
    drive(only_delivery(event))
    [request] = hook.requests[seen:]
    return event, request


def verifies(secret: str, request: Received) -> bool:
    try:
        Webhook(secret).verify(request.body, request.headers)
    except WebhookVerificationError:
        return False
    return True


def test_every_delivery_verifies_with_the_standard_webhooks_library(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    for kind in ("message.received", "message.status", "session.status"):
        event, request = deliver(session, hook, kind)

        assert Webhook(endpoint.secret).verify(request.body, request.headers) == event.envelope
        assert request.webhook_id == str(event.pk)
        assert abs(int(request.headers["webhook-timestamp"]) - request.at) <= 2
        assert request.headers["content-type"] == "application/json"


def test_the_body_is_the_event_envelope(
    workspace: Workspace, session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    event, request = deliver(session, hook)

    body = request.json()
    assert body == event.envelope
    assert set(body) == {"id", "type", "created_at", "workspace", "session", "data"}
    assert (body["id"], body["type"], body["workspace"]) == (str(event.pk), "message.received", str(workspace.pk))
    assert body["session"] == {"id": str(session.pk), "name": "Support", "phone": "+15550100009"}
    assert body["data"] == {"text": "hello"}
    created_at = parse_datetime(body["created_at"])
    assert created_at is not None
    assert abs(created_at - event.created_at) < timedelta(seconds=1)


def test_another_secret_or_a_changed_body_does_not_verify(
    workspace: Workspace, session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    other = endpoint_for(workspace, hook.url("/other"), event_types=["session.status"])
    _, request = deliver(session, hook)

    assert verifies(endpoint.secret, request)
    assert not verifies(other.secret, request)
    tampered = Received(request.method, request.path, request.headers, request.body.replace(b"hello", b"HELLO"), 0)
    assert not verifies(endpoint.secret, tampered)


def test_secrets_are_random_whsec_keys_of_32_bytes(workspace: Workspace, hook: Receiver) -> None:
    secrets = {endpoint_for(workspace, hook.url(f"/{n}")).secret for n in range(3)}

    assert len(secrets) == 3
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32


def test_an_event_delivered_long_after_it_happened_is_signed_at_the_attempt(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    # Receivers refuse timestamps older than five minutes: a retry hours later must carry its own.
    event = publish(session)
    Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=3))

    drive(only_delivery(event))

    [request] = hook.requests
    assert verifies(endpoint.secret, request)


@pytest.mark.parametrize(
    ("later", "old_verifies"),
    [(timedelta(0), True), (timedelta(hours=23, minutes=59), True), (timedelta(hours=24, minutes=1), False)],
)
def test_after_a_rotation_both_secrets_verify_for_24_hours_then_only_the_new_one(
    workspace: Workspace,
    session: WhatsAppSession,
    hook: Receiver,
    endpoint: WebhookEndpoint,
    api_client_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    later: timedelta,
    old_verifies: bool,
) -> None:
    old = endpoint.secret
    rotated = api_client_for(workspace, ["webhooks:manage"]).client.post(
        f"/api/v1/webhooks/{endpoint.pk}/rotate-secret"
    )
    assert rotated.status_code == 200, rotated.content
    new = rotated.json()["secret"]
    assert new != old
    assert new == WebhookEndpoint.objects.get(pk=endpoint.pk).secret
    at = timezone.now() + later
    monkeypatch.setattr(timezone, "now", lambda: at)

    _, request = deliver(session, hook)

    assert verifies(new, request)
    assert verifies(old, request) is old_verifies
    assert len(request.headers["webhook-signature"].split(" ")) == (2 if old_verifies else 1)


def test_the_rotation_grace_period_is_24_hours_from_the_rotation(
    workspace: Workspace, endpoint: WebhookEndpoint, api_client_for: Callable[..., Any]
) -> None:
    before = timezone.now()
    rotated = api_client_for(workspace, ["webhooks:manage"]).client.post(
        f"/api/v1/webhooks/{endpoint.pk}/rotate-secret"
    )

    expires = parse_datetime(rotated.json()["previous_secret_expires_at"])
    assert expires is not None
    assert before + timedelta(hours=24) <= expires <= timezone.now() + timedelta(hours=24)
    assert "previous_secret" not in rotated.json()  # only the current secret is ever shown
