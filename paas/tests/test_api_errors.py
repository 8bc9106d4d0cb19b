"""Every API error leaves in one shape: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import path
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Workspace
from paas.api.errors import api_exception_handler
from tests.fixtures.services import clear_cache


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


class ExplodingView(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Any) -> Response:
        raise RuntimeError("boom")


urlpatterns = [path("api/v1/explode", ExplodingView.as_view())]


@pytest.mark.django_db
def test_an_unknown_api_url_is_a_json_404(client: Client) -> None:
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error(client.get("/internal/v1/nothing-here"), 404, "not_found")


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_an_unknown_api_url_is_json_even_with_debug_on(client: Client) -> None:
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")


@pytest.mark.django_db
def test_a_missing_key_is_401_with_a_bearer_challenge(client: Client) -> None:
    error = assert_error(client.get("/api/v1/whoami"), 401, "not_authenticated")
    assert error["details"] == {}
    response = client.get("/api/v1/whoami")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db
def test_a_malformed_authorization_header_is_401(client: Client) -> None:
    assert_error(client.get("/api/v1/whoami", HTTP_AUTHORIZATION="Basic Zm9vOmJhcg=="), 401, "malformed_api_key")
    assert_error(client.get("/api/v1/whoami", HTTP_AUTHORIZATION="Bearer a b"), 401, "malformed_api_key")
    assert_error(client.get("/api/v1/whoami", HTTP_AUTHORIZATION="Bearer sb_live_short"), 401, "malformed_api_key")


@pytest.mark.django_db
def test_wrong_method_and_media_type(api_client_for: Any, workspace: Workspace) -> None:
    client = api_client_for(workspace).client
    assert_error(client.put("/api/v1/whoami", {}), 405, "method_not_allowed")
    response = client.post("/api/v1/api-keys", data="<xml/>", content_type="application/xml")
    assert_error(response, 415, "unsupported_media_type")
    response = client.post("/api/v1/api-keys", data="{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


@pytest.mark.django_db
def test_validation_errors_list_each_field(api_client_for: Any, workspace: Workspace) -> None:
    client = api_client_for(workspace).client
    error = assert_error(client.post("/api/v1/api-keys", {"scopes": ["nope"]}, format="json"), 400, "validation_error")
    assert set(error["details"]) == {"name", "scopes"}


@pytest.mark.django_db
@pytest.mark.urls("paas.tests.test_api_errors")
def test_an_unhandled_exception_is_a_json_500_and_is_logged(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    error = assert_error(client.get("/api/v1/explode"), 500, "internal_error")
    assert "boom" not in error["message"]  # internals stay in the log
    assert any("boom" in str(record.exc_info) for record in caplog.records)


@pytest.mark.django_db
@override_settings(API_RATE_LIMIT="3/min")
def test_throttling_is_429_with_retry_after_per_key(api_client_for: Any, workspace: Workspace) -> None:
    clear_cache()
    client = api_client_for(workspace).client
    statuses = [client.get("/api/v1/whoami").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/whoami")
    error = assert_error(response, 429, "rate_limited")
    seconds = int(response["Retry-After"])
    assert seconds >= 1
    assert error["details"]["retry_after"] == seconds
    assert f"Try again in {seconds} seconds." in error["message"]
    # Another key of the same workspace has its own allowance.
    assert api_client_for(workspace).client.get("/api/v1/whoami").status_code == 200


@pytest.mark.parametrize(("wait", "seconds"), [(39.2, 40), (40.0, 40), (0.0, 1), (0.3, 1)])
def test_retry_after_details_and_message_tell_the_same_whole_seconds(wait: float, seconds: int) -> None:
    response = api_exception_handler(exceptions.Throttled(wait=wait), {})

    assert response["Retry-After"] == str(seconds)
    assert response.data["error"]["details"] == {"retry_after": seconds}
    assert response.data["error"]["message"] == f"Too many requests. Try again in {seconds} seconds."


@pytest.mark.django_db
@override_settings(ALLOWED_HOSTS=["switchboard.example.com"])
def test_a_host_that_is_not_ours_is_a_json_400_under_the_api_prefixes(client: Client) -> None:
    for url in ("/api/v1/whoami", "/internal/v1/heartbeat", "/api/v1/nope"):
        assert_error(client.get(url, HTTP_HOST="evil.example"), 400, "bad_request")
    page = client.get("/accounts/login/", HTTP_HOST="evil.example")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
