"""The portal's webhook pages: admins manage endpoints; members and outsiders do not see them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from django.test import Client, override_settings

from accounts.models import Membership
from sessions_app.models import Delivery, WebhookEndpoint
from sessions_app.services.webhooks.endpoints import endpoint_create
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.webhook_helpers import Reply, drive, only_delivery, publish, receiver

pytestmark = pytest.mark.django_db


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True)
def test_an_admin_adds_an_endpoint_and_sees_its_secret(as_role: Callable[[str], Client], admin: Membership) -> None:
    response = as_role("admin").post(
        "/workspace/webhooks/", {"url": "http://127.0.0.1:9/hook", "event_types": ["message.received"]}
    )
    endpoint = WebhookEndpoint.objects.get(workspace=admin.workspace)
    assert response.status_code == 302
    assert endpoint.event_types == ["message.received"]
    page = as_role("admin").get(f"/workspace/webhooks/{endpoint.pk}/")
    assert endpoint.secret in page.content.decode()
    assert endpoint.secret.startswith("whsec_")


def test_a_private_address_is_refused_with_the_reason(as_role: Callable[[str], Client], admin: Membership) -> None:
    response = as_role("admin").post("/workspace/webhooks/", {"url": "http://10.1.2.3/hook"})
    assert response.status_code == 400
    assert "not a public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_url_with_a_port_over_65535_is_refused_with_the_reason(
    as_role: Callable[[str], Client], admin: Membership
) -> None:
    response = as_role("admin").post("/workspace/webhooks/", {"url": "https://example.com:99999/hook"})
    assert response.status_code == 400  # reading the port raised ValueError: a 500
    assert "port cannot be read" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_members_cannot_see_webhooks(as_role: Callable[[str], Client], member: Membership) -> None:
    assert as_role("member").get("/workspace/webhooks/").status_code == 403


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True)
def test_an_outsider_gets_404_for_another_workspaces_endpoint(
    as_role: Callable[[str], Client], admin: Membership, outsider: Membership
) -> None:
    endpoint = endpoint_create(workspace=admin.workspace, url="http://127.0.0.1:9/hook")
    assert as_role("outsider").get(f"/workspace/webhooks/{endpoint.pk}/").status_code == 404
    assert as_role("outsider").post(f"/workspace/webhooks/{endpoint.pk}/", {"action": "rotate"}).status_code == 404


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True)
def test_rotating_keeps_the_old_secret_for_a_day_and_a_test_event_is_queued(
    as_role: Callable[[str], Client], admin: Membership, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = endpoint_create(workspace=admin.workspace, url="http://127.0.0.1:9/hook")
    old = endpoint.secret
    client = as_role("admin")
    client.post(f"/workspace/webhooks/{endpoint.pk}/", {"action": "rotate"})
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.previous_secret == old
    with (
        mock.patch("sessions_app.tasks.deliver_webhook.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(f"/workspace/webhooks/{endpoint.pk}/", {"action": "test"})
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.event.type == "webhook.test"
    delay.assert_called_once_with(str(delivery.pk))


@pytest.fixture
def logged(admin: Membership) -> Iterator[tuple[WebhookEndpoint, Delivery, Delivery]]:
    """An endpoint with two deliveries: one attempted once (the receiver answered 503), one not attempted yet."""
    session = SessionFactory.create(workspace=admin.workspace)
    with (
        override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True, WEBHOOK_RETRY_SCHEDULE=[0]),
        receiver(default=Reply(503, body=b"busy")) as hook,
    ):
        endpoint = endpoint_create(workspace=admin.workspace, url=hook.url())
        tried = drive(only_delivery(publish(session)))
        waiting = only_delivery(publish(session, "message.status"))
        yield endpoint, tried, waiting


def test_the_delivery_log_shows_each_delivery_with_its_last_attempt_and_a_replay_button(
    as_role: Callable[[str], Client], logged: tuple[WebhookEndpoint, Delivery, Delivery]
) -> None:
    endpoint, tried, waiting = logged
    page = as_role("admin").get(f"/workspace/webhooks/{endpoint.pk}/")

    assert page.status_code == 200  # it was 500 once a delivery existed: |last on the attempts' QuerySet
    html = page.content.decode()
    for delivery in (tried, waiting):
        assert str(delivery.event_id) in html
        assert f'<input type="hidden" name="delivery" value="{delivery.pk}">' in html
    assert html.count('name="action" value="replay"') == 2
    assert "503 · " in html  # the attempted one's last answer
    assert 'name="action" value="replay_failed"' in html


def test_a_delivery_is_replayed_from_its_button(
    as_role: Callable[[str], Client], logged: tuple[WebhookEndpoint, Delivery, Delivery]
) -> None:
    endpoint, tried, _ = logged
    with mock.patch("sessions_app.tasks.deliver_webhook.delay"):
        response = as_role("admin").post(
            f"/workspace/webhooks/{endpoint.pk}/", {"action": "replay", "delivery": str(tried.pk)}
        )
    assert response.status_code == 302
    assert Delivery.objects.filter(event_id=tried.event_id).count() == 2


# Ids of their own: a test id made of a random UUID differs between pytest-xdist's workers, which refuse to run then.
@pytest.mark.parametrize(
    "delivery",
    ["not-a-uuid", "", "\x00", "0" * 5000, str(uuid.uuid4()), None],
    ids=["not-a-uuid", "empty", "nul", "too-long", "unknown", "missing"],
)
def test_replaying_a_malformed_or_unknown_delivery_id_is_not_found(
    as_role: Callable[[str], Client], logged: tuple[WebhookEndpoint, Delivery, Delivery], delivery: str | None
) -> None:
    endpoint = logged[0]
    body = {"action": "replay"} if delivery is None else {"action": "replay", "delivery": delivery}
    response = as_role("admin").post(f"/workspace/webhooks/{endpoint.pk}/", body)
    assert response.status_code == 404  # "not-a-uuid" was a 500
    assert Delivery.objects.filter(endpoint=endpoint).count() == 2


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True)
def test_another_endpoints_delivery_is_not_replayed_from_this_page(
    as_role: Callable[[str], Client], logged: tuple[WebhookEndpoint, Delivery, Delivery], outsider: Membership
) -> None:
    endpoint = logged[0]
    endpoint_create(workspace=outsider.workspace, url="http://127.0.0.1:9/hook")
    theirs = only_delivery(publish(SessionFactory.create(workspace=outsider.workspace)))
    response = as_role("admin").post(f"/workspace/webhooks/{endpoint.pk}/", {"action": "replay", "delivery": theirs.pk})
    assert response.status_code == 404
    assert Delivery.objects.filter(event_id=theirs.event_id).count() == 1
