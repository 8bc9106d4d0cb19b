"""The webhooks API: endpoints (create, list, retrieve, patch, delete), secret rotation, test events, the delivery log
and replays; another workspace's ids are not found, and every operation needs webhooks:manage."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership, Scope, Workspace
from sessions_app.models import Delivery, DeliveryStatus, Event, WebhookEndpoint, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.webhook_helpers import Receiver, Reply, drive, endpoint_for, only_delivery, publish, receiver

pytestmark = pytest.mark.django_db
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture(autouse=True)
def _local_webhooks() -> Iterator[None]:
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True, WEBHOOK_RETRY_SCHEDULE=[0]):
        yield


@pytest.fixture
def client(workspace: Workspace, api_client_for: Callable[..., Any]) -> APIClient:
    return api_client_for(workspace, [Scope.WEBHOOKS_MANAGE]).client


@pytest.fixture
def session(workspace: Workspace) -> WhatsAppSession:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace)
    return session


@pytest.fixture
def endpoint(workspace: Workspace) -> WebhookEndpoint:
    return endpoint_for(workspace, HOOK, description="orders")


@pytest.fixture
def failing(workspace: Workspace, session: WhatsAppSession) -> Iterator[tuple[Receiver, WebhookEndpoint, Delivery]]:
    """An endpoint whose receiver answered 500 to the only attempt of one delivery."""
    with receiver(default=Reply(500, body=b"down for maintenance")) as hook:
        endpoint = endpoint_for(workspace, hook.url())
        delivery = drive(only_delivery(publish(session)))
        assert delivery.status == DeliveryStatus.FAILED
        yield hook, endpoint, delivery


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_an_endpoint_is_created_with_a_secret(
    client: APIClient, workspace: Workspace, session: WhatsAppSession
) -> None:
    body = {
        "url": "http://127.0.0.1:8123/hooks/whatsapp?tenant=1",
        "description": "CRM",
        "event_types": ["message.received", "session.status"],
        "session_ids": [str(session.pk)],
    }

    response = client.post("/api/v1/webhooks", body, format="json")

    assert response.status_code == 201, response.content
    created = response.json()
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.workspace == workspace
    assert (endpoint.url, endpoint.description) == (body["url"], "CRM")
    assert endpoint.event_types == created["event_types"] == body["event_types"]
    assert endpoint.session_ids == created["session_ids"] == [str(session.pk)]
    assert created["secret"] == endpoint.secret
    assert created["secret"].startswith("whsec_")
    assert (created["enabled"], created["disabled_reason"], created["failing_since"]) == (True, "", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": HOOK, "event_types": ["message.exploded"]}, "event_types"),
        ({"url": HOOK, "event_types": "message.received"}, "event_types"),
        ({"url": HOOK, "session_ids": ["not-a-uuid"]}, "session_ids"),
    ],
)
def test_an_invalid_endpoint_is_refused_field_by_field(client: APIClient, body: dict[str, Any], field: str) -> None:
    response = client.post("/api/v1/webhooks", body, format="json")

    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert field in response.json()["error"]["details"]
    assert not WebhookEndpoint.objects.exists()


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False)
@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://10.0.0.7/hook", "url_forbidden_address"),
        ("http://localhost/hook", "url_forbidden_address"),
        ("ftp://ftp.example.com/hook", "url_scheme_forbidden"),
    ],
)
def test_a_url_we_may_not_call_is_refused_at_create(client: APIClient, url: str, code: str) -> None:
    response = client.post("/api/v1/webhooks", {"url": url}, format="json")

    assert response.status_code == 400
    assert error_code(response) == code
    assert "url" in response.json()["error"]["details"]
    assert not WebhookEndpoint.objects.exists()


def test_the_list_shows_this_workspaces_endpoints_newest_first(
    client: APIClient, workspace: Workspace, outsider: Membership
) -> None:
    first = endpoint_for(workspace, HOOK)
    second = endpoint_for(workspace, HOOK + "2")
    endpoint_for(outsider.workspace, HOOK)

    response = client.get("/api/v1/webhooks")

    assert response.status_code == 200
    assert [e["id"] for e in response.json()["results"]] == [str(second.pk), str(first.pk)]


def test_an_endpoint_is_retrieved_with_its_secret(client: APIClient, endpoint: WebhookEndpoint) -> None:
    response = client.get(f"/api/v1/webhooks/{endpoint.pk}")

    assert response.status_code == 200
    assert (response.json()["url"], response.json()["secret"]) == (HOOK, endpoint.secret)


def test_patch_changes_only_what_it_names(client: APIClient, endpoint: WebhookEndpoint) -> None:
    response = client.patch(
        f"/api/v1/webhooks/{endpoint.pk}", {"event_types": ["message.status"], "url": HOOK + "/v2"}, format="json"
    )

    assert response.status_code == 200, response.content
    changed = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (changed.event_types, changed.url, changed.description) == (["message.status"], HOOK + "/v2", "orders")
    assert changed.secret == endpoint.secret
    assert response.json()["event_types"] == ["message.status"]


@pytest.mark.parametrize(
    "body", [{"event_types": ["message.exploded"]}, {"event_types": [""]}, {"event_types": {"a": 1}}, {"url": "x"}]
)
def test_an_invalid_patch_changes_nothing(client: APIClient, endpoint: WebhookEndpoint, body: dict[str, Any]) -> None:
    response = client.patch(f"/api/v1/webhooks/{endpoint.pk}", body, format="json")

    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    unchanged = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (unchanged.event_types, unchanged.url) == ([], HOOK)


TOO_MUCH = [
    pytest.param({"event_types": ["message.status"] * 101}, "event_types", id="over-100-event-types"),
    pytest.param({"session_ids": [str(uuid.uuid4()) for _ in range(1001)]}, "session_ids", id="over-1000-sessions"),
    pytest.param({"description": "x" * 201}, "description", id="long-description"),
    pytest.param({"url": "http://127.0.0.1:9/" + "x" * 2000}, "url", id="long-url"),
]


@pytest.mark.parametrize(("body", "field"), TOO_MUCH)
def test_create_and_update_have_the_same_limits(
    client: APIClient, endpoint: WebhookEndpoint, body: dict[str, Any], field: str
) -> None:
    created = client.post("/api/v1/webhooks", {"url": HOOK, **body}, format="json")
    updated = client.patch(f"/api/v1/webhooks/{endpoint.pk}", body, format="json")

    for response in (created, updated):
        assert response.status_code == 400, response.content
        assert set(response.json()["error"]["details"]) == {field}
    assert WebhookEndpoint.objects.get() == endpoint
    assert WebhookEndpoint.objects.get().event_types == []


def test_repeated_event_types_and_sessions_are_kept_once(client: APIClient, endpoint: WebhookEndpoint) -> None:
    session_id = str(uuid.uuid4())
    body = {"event_types": ["message.status", "message.received", "message.status"], "session_ids": [session_id] * 3}

    response = client.patch(f"/api/v1/webhooks/{endpoint.pk}", body, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["event_types"], response.json()["session_ids"]) == (
        ["message.status", "message.received"],
        [session_id],
    )


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False)
def test_patching_the_url_to_a_private_address_is_refused(client: APIClient, workspace: Workspace) -> None:
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        endpoint = endpoint_for(workspace, HOOK)

    response = client.patch(f"/api/v1/webhooks/{endpoint.pk}", {"url": "http://192.168.0.10/hook"}, format="json")

    assert response.status_code == 400
    assert error_code(response) == "url_forbidden_address"
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == HOOK


def test_enabling_a_disabled_endpoint_again_clears_its_failure_state(
    client: APIClient, endpoint: WebhookEndpoint, session: WhatsAppSession
) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_reason="The endpoint answered 410 Gone.", failing_since=timezone.now()
    )
    assert not Delivery.objects.filter(event=publish(session)).exists()

    response = client.patch(f"/api/v1/webhooks/{endpoint.pk}", {"enabled": True}, format="json")

    assert response.status_code == 200
    assert (response.json()["enabled"], response.json()["disabled_reason"], response.json()["failing_since"]) == (
        True,
        "",
        None,
    )
    again = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (again.enabled, again.disabled_reason, again.failing_since) == (True, "", None)
    assert Delivery.objects.filter(event=publish(session), endpoint=endpoint).exists()


def test_an_endpoint_can_be_switched_off(
    client: APIClient, endpoint: WebhookEndpoint, session: WhatsAppSession
) -> None:
    response = client.patch(f"/api/v1/webhooks/{endpoint.pk}", {"enabled": False}, format="json")

    assert response.status_code == 200
    assert not Delivery.objects.filter(event=publish(session)).exists()


def test_delete_removes_the_endpoint_and_its_log(
    client: APIClient, failing: tuple[Receiver, WebhookEndpoint, Delivery]
) -> None:
    _, endpoint, delivery = failing

    response = client.delete(f"/api/v1/webhooks/{endpoint.pk}")

    assert response.status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not Delivery.objects.filter(pk=delivery.pk).exists()
    assert Event.objects.filter(pk=delivery.event_id).exists()  # the event stays for the stream and other endpoints


def test_rotate_secret_answers_the_new_secret(client: APIClient, endpoint: WebhookEndpoint) -> None:
    response = client.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret")

    assert response.status_code == 200
    rotated = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert response.json()["secret"] == rotated.secret != endpoint.secret
    assert rotated.previous_secret == endpoint.secret
    assert client.get(f"/api/v1/webhooks/{endpoint.pk}").json()["secret"] == rotated.secret


def test_a_test_event_is_queued_for_the_endpoint_after_commit(
    client: APIClient, endpoint: WebhookEndpoint, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        patch("sessions_app.tasks.deliver_webhook.delay") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(f"/api/v1/webhooks/{endpoint.pk}/test")

    assert response.status_code == 202, response.content
    body = response.json()
    delivery = Delivery.objects.get(pk=body["id"])
    assert (delivery.endpoint_id, delivery.status) == (endpoint.pk, DeliveryStatus.PENDING)
    assert body["event"]["type"] == "webhook.test"
    assert body["event"]["id"] == str(delivery.event_id)
    enqueue.assert_called_once_with(str(delivery.pk))


def test_the_delivery_log_shows_each_attempt(
    client: APIClient, workspace: Workspace, failing: tuple[Receiver, WebhookEndpoint, Delivery]
) -> None:
    _, endpoint, delivery = failing
    elsewhere = endpoint_for(workspace, HOOK)

    for path in (
        f"/api/v1/webhooks/{endpoint.pk}/deliveries",
        "/api/v1/deliveries",
        "/api/v1/deliveries?status=failed",
    ):
        listed = client.get(path)
        assert listed.status_code == 200
        assert [d["id"] for d in listed.json()["results"]] == [str(delivery.pk)], path
    assert client.get(f"/api/v1/webhooks/{elsewhere.pk}/deliveries").json()["results"] == []
    assert client.get("/api/v1/deliveries?status=succeeded").json()["results"] == []
    detail = client.get(f"/api/v1/deliveries/{delivery.pk}")

    assert detail.status_code == 200
    body = detail.json()
    assert (body["endpoint"], body["status"], body["attempt_count"], body["last_status_code"]) == (
        str(endpoint.pk),
        "failed",
        1,
        500,
    )
    assert body["event"] == Event.objects.get(pk=delivery.event_id).envelope
    [attempt] = body["attempts"]
    assert (attempt["status_code"], attempt["response_snippet"], attempt["error"]) == (500, "down for maintenance", "")
    assert attempt["latency_ms"] >= 0
    assert attempt["attempted_at"]


def test_a_delivery_is_replayed_as_a_new_delivery_of_the_same_event(
    client: APIClient, failing: tuple[Receiver, WebhookEndpoint, Delivery]
) -> None:
    hook, _, delivery = failing

    response = client.post(f"/api/v1/deliveries/{delivery.pk}/replay")

    assert response.status_code == 202
    assert response.json() == {"replayed": 1}
    [again] = Delivery.objects.exclude(pk=delivery.pk)
    assert (again.event_id, again.endpoint_id, again.status) == (delivery.event_id, delivery.endpoint_id, "pending")
    hook.default = Reply(200)
    assert drive(again).status == DeliveryStatus.SUCCEEDED
    assert [r.webhook_id for r in hook.requests] == [str(delivery.event_id)] * 2


def test_every_failed_delivery_since_a_time_is_replayed(
    client: APIClient, session: WhatsAppSession, failing: tuple[Receiver, WebhookEndpoint, Delivery]
) -> None:
    _, endpoint, first = failing
    second = drive(only_delivery(publish(session)))
    Delivery.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=2))

    since = (timezone.now() - timedelta(days=1)).isoformat()
    response = client.post(f"/api/v1/webhooks/{endpoint.pk}/replay", {"since": since}, format="json")

    assert response.status_code == 202
    assert response.json() == {"replayed": 1}
    [again] = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    assert again.event_id == second.event_id


def test_a_replay_needs_a_valid_since(client: APIClient, endpoint: WebhookEndpoint) -> None:
    for body in ({}, {"since": "yesterday"}):
        response = client.post(f"/api/v1/webhooks/{endpoint.pk}/replay", body, format="json")
        assert response.status_code == 400
        assert "since" in response.json()["error"]["details"]


def outsider_requests(endpoint: WebhookEndpoint, delivery: Delivery) -> list[tuple[str, str, dict[str, Any]]]:
    e, d = endpoint.pk, delivery.pk
    return [
        ("get", f"/api/v1/webhooks/{e}", {}),
        ("patch", f"/api/v1/webhooks/{e}", {"description": "mine now", "enabled": False}),
        ("delete", f"/api/v1/webhooks/{e}", {}),
        ("post", f"/api/v1/webhooks/{e}/rotate-secret", {}),
        ("post", f"/api/v1/webhooks/{e}/test", {}),
        ("post", f"/api/v1/webhooks/{e}/replay", {"since": "2000-01-01T00:00:00Z"}),
        ("get", f"/api/v1/webhooks/{e}/deliveries", {}),
        ("get", f"/api/v1/deliveries/{d}", {}),
        ("post", f"/api/v1/deliveries/{d}/replay", {}),
    ]


def test_an_outsider_finds_none_of_another_workspaces_webhooks(
    outsider: Membership, api_client_for: Callable[..., Any], failing: tuple[Receiver, WebhookEndpoint, Delivery]
) -> None:
    _, endpoint, delivery = failing
    intruder = api_client_for(outsider.workspace).client

    for method, path, body in outsider_requests(endpoint, delivery):
        response = getattr(intruder, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
        assert error_code(response) == "not_found"
    assert intruder.get("/api/v1/webhooks").json()["results"] == []
    assert intruder.get("/api/v1/deliveries").json()["results"] == []

    unchanged = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (unchanged.secret, unchanged.description, unchanged.enabled) == (endpoint.secret, "", True)
    assert list(Delivery.objects.values_list("pk", flat=True)) == [delivery.pk]


def test_unknown_ids_are_not_found(client: APIClient, failing: tuple[Receiver, WebhookEndpoint, Delivery]) -> None:
    _, endpoint, delivery = failing
    endpoint.pk = delivery.pk = "00000000-0000-4000-8000-000000000000"

    for method, path, body in outsider_requests(endpoint, delivery):
        assert getattr(client, method)(path, body, format="json").status_code == 404, (method, path)


def test_a_key_without_webhooks_manage_is_refused_everywhere(
    workspace: Workspace, api_client_for: Callable[..., Any], failing: tuple[Receiver, WebhookEndpoint, Delivery]
) -> None:
    _, endpoint, delivery = failing
    others = [s for s in Scope.values if s != Scope.WEBHOOKS_MANAGE]
    limited = api_client_for(workspace, others).client
    requests = [
        ("get", "/api/v1/webhooks", {}),
        ("post", "/api/v1/webhooks", {"url": HOOK}),
        ("get", "/api/v1/deliveries", {}),
        *outsider_requests(endpoint, delivery),
    ]

    for method, path, body in requests:
        response = getattr(limited, method)(path, body, format="json")
        assert response.status_code == 403, (method, path)
        assert error_code(response) == "missing_scope"
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret
    assert WebhookEndpoint.objects.count() == 1
