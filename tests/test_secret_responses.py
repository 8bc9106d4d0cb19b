"""Every response that carries a secret (a new API key, a webhook signing secret, a worker's token) says
Cache-Control: no-store, so neither a browser's cache nor a proxy keeps it; answers without one stay cacheable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils.cache import get_max_age

from accounts.models import Scope, Workspace
from sessions_app.models import WebhookEndpoint
from sessions_app.tests.webhook_helpers import endpoint_for
from workers_app.services.enrollment import enrollment_token_create
from workers_app.tests.helpers import worker_client

pytestmark = pytest.mark.django_db
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture(autouse=True)
def _local_webhooks() -> Iterator[None]:
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        yield


@pytest.fixture
def api(workspace: Workspace, api_client_for: Callable[..., Any]) -> Any:
    return api_client_for(workspace, [Scope.KEYS_MANAGE, Scope.WEBHOOKS_MANAGE]).client


@pytest.fixture
def endpoint(workspace: Workspace) -> WebhookEndpoint:
    return endpoint_for(workspace, HOOK)


def assert_not_stored(response: Any, secret: str) -> None:
    assert secret
    assert secret in response.content.decode(), "the response does not carry the secret"
    directives = {part.strip().split("=")[0] for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private"} <= directives, response["Cache-Control"]
    assert get_max_age(response) == 0


def test_a_new_api_key_is_not_stored(api: Any) -> None:
    response = api.post("/api/v1/api-keys", {"name": "ci", "scopes": [Scope.WEBHOOKS_MANAGE]}, format="json")
    assert response.status_code == 201, response.content
    assert_not_stored(response, response.json()["key"])


def test_a_new_webhook_endpoints_secret_is_not_stored(api: Any) -> None:
    response = api.post("/api/v1/webhooks", {"url": HOOK}, format="json")
    assert response.status_code == 201, response.content
    assert_not_stored(response, response.json()["secret"])


def test_reading_or_changing_an_endpoint_does_not_store_its_secret(api: Any, endpoint: WebhookEndpoint) -> None:
    for response in (
        api.get("/api/v1/webhooks"),
        api.get(f"/api/v1/webhooks/{endpoint.pk}"),
        api.patch(f"/api/v1/webhooks/{endpoint.pk}", {"description": "orders"}, format="json"),
    ):
        assert response.status_code == 200, response.content
        assert_not_stored(response, endpoint.secret)


def test_a_rotated_secret_is_not_stored(api: Any, endpoint: WebhookEndpoint) -> None:
    response = api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret")
    assert response.status_code == 200, response.content
    endpoint.refresh_from_db()
    assert response.json()["secret"] == endpoint.secret
    assert_not_stored(response, endpoint.secret)


def test_a_new_workers_token_is_not_stored() -> None:
    enrollment = enrollment_token_create(name="pool")
    body = {
        "enrollment_token": enrollment.raw,
        "name": "eu-1",
        "advertise_url": "http://10.0.0.5:8100",
        "engine": "sandbox",
        "capacity": 5,
    }
    response = worker_client().post("/internal/v1/workers/register", body, format="json")
    assert response.status_code == 201, response.content
    assert_not_stored(response, response.json()["worker_token"])


def test_the_portal_page_showing_a_new_key_is_not_stored(as_role: Callable[[str], Client]) -> None:
    response = as_role("admin").post("/workspace/api-keys/", {"name": "portal", "scopes": [Scope.SESSIONS_READ]})
    assert response.status_code == 201, response.content
    raw_key = response.context["issued"].raw_key
    assert_not_stored(response, raw_key)


def test_the_portal_page_showing_a_webhook_secret_is_not_stored(
    as_role: Callable[[str], Client], endpoint: WebhookEndpoint
) -> None:
    response = as_role("admin").get(f"/workspace/webhooks/{endpoint.pk}/")
    assert response.status_code == 200
    assert_not_stored(response, endpoint.secret)


def test_answers_without_a_secret_keep_their_caching(api: Any, endpoint: WebhookEndpoint) -> None:
    for response in (api.get("/api/v1/whoami"), api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries")):
        assert response.status_code == 200, response.content
        assert "no-store" not in response.get("Cache-Control", "")


def test_a_sessions_qr_code_and_pairing_code_are_not_stored(workspace: Workspace, api_client_for: Any) -> None:
    from sessions_app.models import SessionState
    from sessions_app.tests.factories import SessionFactory

    client = api_client_for(workspace, [Scope.SESSIONS_READ]).client
    session = SessionFactory.create(workspace=workspace, state=SessionState.SCAN_QR, qr_code="2@scan-me,abc")
    for suffix in ("qr", "qr.png", "qr.svg"):
        response = client.get(f"/api/v1/sessions/{session.pk}/{suffix}")
        assert response.status_code == 200, (suffix, response.content)
        directives = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= directives, (suffix, response["Cache-Control"])
    assert_not_stored(client.get(f"/api/v1/sessions/{session.pk}/qr"), "2@scan-me,abc")


def test_the_two_factor_pages_that_show_secrets_are_not_stored(owner: Any) -> None:
    from accounts.tests.factories import PASSWORD

    browser = Client()
    browser.force_login(owner.user)
    activate = "/accounts/2fa/totp/activate/"
    assert browser.post(f"/accounts/reauthenticate/?next={activate}", {"password": PASSWORD}).status_code == 302
    response = browser.get(activate)
    assert response.status_code == 200, response.get("Location")
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private"} <= directives, response["Cache-Control"]
    assert "no-store" not in browser.get("/api/schema/").get("Cache-Control", "")  # others are left alone
