"""No client input is a 500: text PostgreSQL cannot store (NUL, lone surrogates), JSON nested too deep or holding an
infinite number, bodies too large, too many form fields, and unknown paths or malformed ids under every method. Each
is refused with its stable code in the one error shape, and a refused request changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Workspace
from paas.tests.test_api_errors import assert_error
from sessions_app.models import Message, WebhookEndpoint, WhatsAppSession
from sessions_app.services.webhooks.endpoints import endpoint_create
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.helpers import event
from sessions_app.tests.message_helpers import PNG, b64, connected_session, received
from workers_app.tests.factories import worker_with_token
from workers_app.tests.helpers import worker_client

pytestmark = pytest.mark.django_db
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def client(workspace: Workspace, api_client_for: Callable[..., Any]) -> APIClient:
    return api_client_for(workspace).client


@pytest.fixture
def session(workspace: Workspace) -> WhatsAppSession:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace, metadata={"team": "support"})
    return session


@pytest.fixture
def endpoint(workspace: Workspace) -> WebhookEndpoint:
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        return endpoint_create(workspace=workspace, url="http://127.0.0.1:9/hook", description="orders")


def stored(session: WhatsAppSession, endpoint: WebhookEndpoint) -> tuple[Any, ...]:
    session.refresh_from_db()
    endpoint.refresh_from_db()
    return (
        WhatsAppSession.objects.count(), session.name, session.metadata, WebhookEndpoint.objects.count(),
        endpoint.description, endpoint.event_types, Message.objects.count(),
    )  # fmt: skip


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# (method, path, raw JSON body, the field details name); {s} and {e} are the session's and the endpoint's ids.
UNSTORABLE = [
    pytest.param("post", "/api/v1/sessions", r'{"name": "shop", "metadata": {"team": "a\u0000b"}}', "metadata",
                 id="nul-in-a-metadata-value"),
    pytest.param("post", "/api/v1/sessions", r'{"name": "shop", "metadata": {"te\u0000am": "a"}}', "metadata",
                 id="nul-in-a-metadata-key"),
    pytest.param("post", "/api/v1/sessions", r'{"name": "shop", "metadata": {"team": ["\ud800"]}}', "metadata",
                 id="surrogate-in-metadata"),
    pytest.param("post", "/api/v1/sessions", r'{"name": "shop", "metadata": {"\udfff": 1}}', "metadata",
                 id="surrogate-in-a-metadata-key"),
    pytest.param("post", "/api/v1/sessions", r'{"name": "shop", "metadata": {"n": 1e400}}', "metadata",
                 id="infinite-number-in-metadata"),
    pytest.param("patch", "/api/v1/sessions/{s}", r'{"metadata": {"team": "\u0000"}}', "metadata",
                 id="nul-in-metadata-on-update"),
    pytest.param("patch", "/api/v1/webhooks/{e}", r'{"description": "a\ud83d"}', "description",
                 id="surrogate-in-a-webhook-description"),
    pytest.param("post", "/api/v1/webhooks", r'{"url": "http://127.0.0.1:9/h", "event_types": ["message.\u0000"]}',
                 "event_types", id="nul-in-event-types"),
    pytest.param("post", "/api/v1/sessions/{s}/messages", r'{"to": "+15550100002", "text": "hi\u0000"}', "text",
                 id="nul-in-message-text"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "field"), UNSTORABLE)
def test_text_postgresql_cannot_store_is_a_validation_error_and_changes_nothing(
    client: APIClient, session: WhatsAppSession, endpoint: WebhookEndpoint, method: str, path: str, body: str,
    field: str,
) -> None:  # fmt: skip
    before = stored(session, endpoint)
    url = path.format(s=session.pk, e=endpoint.pk)

    error = assert_error(getattr(client, method)(url, body, content_type=JSON), 400, "validation_error")

    assert set(error["details"]) == {field}
    assert stored(session, endpoint) == before


@pytest.mark.parametrize(
    ("query", "name"),
    [("chat=%00", "chat"), ("chat=a%00b", "chat"), ("status=%00", "status"), ("since=%00", "since"),
     ("direction=in&a%00=1", "a\ufffd")],
    ids=["chat", "inside-chat", "status", "since", "in-a-name"],
)  # fmt: skip
def test_a_nul_in_a_query_parameter_is_a_validation_error(
    client: APIClient, session: WhatsAppSession, query: str, name: str
) -> None:
    error = assert_error(client.get(f"/api/v1/sessions/{session.pk}/messages?{query}"), 400, "validation_error")
    assert error["details"] == {name: ["Null characters are not allowed."]}
    assert_error(client.get(f"/api/v1/deliveries?{query}"), 400, "validation_error")


def test_times_postgresql_would_refuse_are_answered_without_a_500(client: APIClient, session: WhatsAppSession) -> None:
    messages = f"/api/v1/sessions/{session.pk}/messages"
    # PostgreSQL takes offsets up to 15:59 only: the time goes to it in UTC.
    assert client.get(f"{messages}?until=2026-03-01T12:00:00%2B23:00").json()["results"] == []
    # Year 1 at +23:59 is before year 1 in UTC: no time at all.
    error = assert_error(client.get(f"{messages}?since=0001-01-01T00:00:00%2B23:59"), 400, "validation_error")
    assert set(error["details"]) == {"since"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("post", "/api/v1/sessions", '{"name": "shop", "metadata": {"a": ' + nested(2000) + "}}",
                     id="metadata-2000-deep"),  # RecursionError: a 500
        pytest.param("post", "/api/v1/sessions", '{"name": "shop", "metadata": {"a": ' + nested(64) + "}}",
                     id="metadata-65-deep"),
        pytest.param("patch", "/api/v1/sessions/{s}", '{"metadata": {"a": ' + nested(5000) + "}}",
                     id="metadata-on-update"),
        pytest.param("post", "/api/v1/webhooks", '{"url": "http://127.0.0.1:9/h", "event_types": ' + nested(3000) + "}",
                     id="event-types"),
        pytest.param("post", "/api/v1/sessions/{s}/messages/read", nested(100_000), id="a-bare-array"),
    ],
)  # fmt: skip
def test_json_nested_deeper_than_64_levels_is_refused(
    client: APIClient, session: WhatsAppSession, endpoint: WebhookEndpoint, method: str, path: str, body: str
) -> None:
    before = stored(session, endpoint)
    response = getattr(client, method)(path.format(s=session.pk), body, content_type=JSON)

    error = assert_error(response, 400, "json_too_deep")

    assert "64" in error["message"]
    assert stored(session, endpoint) == before


def test_json_64_levels_deep_is_taken(client: APIClient) -> None:
    body = '{"name": "shop", "metadata": {"a": ' + nested(62) + "}}"  # the body, metadata, and 62 lists
    assert client.post("/api/v1/sessions", body, content_type=JSON).status_code == 201


def test_more_than_1000_form_fields_are_refused(client: APIClient, session: WhatsAppSession) -> None:
    fields = "&".join(f"message_ids={uuid.uuid4()}" for _ in range(1001))
    response = client.post(f"/api/v1/sessions/{session.pk}/messages/read", fields, content_type=FORM)

    error = assert_error(response, 400, "too_many_fields")  # TooManyFieldsSent was a 500

    assert error["details"] == {"max_fields": 1000}


def test_a_multipart_send_with_more_than_1000_fields_is_refused(client: APIClient, session: WhatsAppSession) -> None:
    fields: dict[str, Any] = {f"extra{n}": "x" for n in range(1001)}
    response = client.post(
        f"/api/v1/sessions/{session.pk}/messages", {"to": "+15550100002", **fields}, format="multipart"
    )

    assert_error(response, 400, "too_many_fields")
    assert not Message.objects.exists()


def test_a_query_string_with_more_than_1000_parameters_is_refused(client: APIClient) -> None:
    query = "&".join(f"p{n}=1" for n in range(1001))
    assert_error(client.get(f"/api/v1/sessions?{query}"), 400, "too_many_fields")


@override_settings(API_MAX_BODY_BYTES=2048)
@pytest.mark.parametrize("kind", ["json", "form", "multipart"])
def test_a_body_over_the_limit_is_413(client: APIClient, session: WhatsAppSession, kind: str) -> None:
    big = "x" * 3000
    url = f"/api/v1/sessions/{session.pk}"
    if kind == "json":
        response = client.patch(url, json.dumps({"name": big}), content_type=JSON)
    elif kind == "form":
        response = client.patch(url, f"name={big}", content_type=FORM)
    else:
        response = client.patch(url, {"name": big}, format="multipart")

    error = assert_error(response, 413, "request_too_large")

    assert error["details"] == {"max_bytes": 2048}
    assert WhatsAppSession.objects.get(pk=session.pk).name == session.name


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_a_body_over_djangos_own_limit_is_413_too(client: APIClient, session: WhatsAppSession) -> None:
    # RequestDataTooBig is raised while DRF reads the body, inside the view: it was a 500.
    body = json.dumps({"to": "+15550100002", "text": "x" * 5000})
    response = client.post(f"/api/v1/sessions/{session.pk}/messages", body, content_type=JSON)

    assert_error(response, 413, "request_too_large")
    assert not Message.objects.exists()


@override_settings(API_MAX_BODY_BYTES=2048)
def test_a_send_takes_media_far_larger_than_the_api_limit(client: APIClient, session: WhatsAppSession) -> None:
    image = b64(PNG + bytes(100_000))
    body = {"to": "+15550100002", "type": "image", "media": {"base64": image, "mime_type": "image/png"}}
    response = client.post(f"/api/v1/sessions/{session.pk}/messages", body, format="json")

    assert response.status_code == 202, response.content
    assert Message.objects.get().media_size == len(PNG) + 100_000


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-thing",
        "/api/v1/sessions/not-a-uuid",
        "/api/v1/sessions/not-a-uuid/start",
        "/api/v1/webhooks/12345",
        "/api/v1/deliveries/%00/replay",
        "/api/v1/sessions/00000000-0000-0000-0000-000000000000/nothing-here",
        "/internal/v1/nothing-here",
        "/internal/v1/workers/not-a-uuid",
    ],
)
def test_unknown_paths_and_malformed_ids_are_a_json_404_for_every_method(path: str, method: str) -> None:
    # A browser's client: CSRF checks on, as for any client that is not Django's test client. POST and the like got
    # the CSRF failure page (403 HTML) instead.
    client = APIClient(enforce_csrf_checks=True)
    response = getattr(client, method)(path, {"a": 1}, format="json")
    assert_error(response, 404, "not_found")


def test_the_worker_api_keeps_a_received_message_holding_a_nul_with_u_fffd_in_its_place() -> None:
    # A WhatsApp contact may send a NUL; refusing it would drop the whole batch (the worker drops what is refused).
    worker, raw = worker_with_token()
    session = connected_session(worker=worker)
    body = json.dumps({"events": [event(session, "message.received", received("3EB0NUL", content={"text": "a"}))]})
    body = body.replace('"text": "a"', r'"text": "a\u0000b\ud800c", "x\u0000": 1')

    response = worker_client(raw).post("/internal/v1/events", body, content_type=JSON)

    assert response.status_code == 200, response.content
    assert len(response.json()["accepted"]) == 1
    assert Message.objects.get(wa_id="3EB0NUL").content["text"] == "a\ufffdb\ufffdc"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999/hook", "http://[::1]:70000/hook", "http://127.0.0.1:0/hook", "http://[::1]:00/"]
)
def test_a_url_whose_port_is_0_or_over_65535_is_refused(client: APIClient, session: WhatsAppSession, url: str) -> None:
    # Django's URLValidator lets such a port through, and reading it raised ValueError: a 500.
    assert_error(client.post("/api/v1/webhooks", {"url": url}, format="json"), 400, "url_invalid")
    send = {"to": "+15550100002", "type": "image", "media": {"url": url}}
    response = client.post(f"/api/v1/sessions/{session.pk}/messages", send, format="json")
    assert_error(response, 400, "media_url_forbidden")
    assert not WebhookEndpoint.objects.exists()
    assert not Message.objects.exists()
