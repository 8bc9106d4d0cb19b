"""The portal's webhook pages: admins manage endpoints; members and outsiders do not see them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.test import Client, override_settings

from accounts.models import Membership
from sessions_app.models import Delivery, WebhookEndpoint
from sessions_app.services.webhooks import endpoint_create

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
