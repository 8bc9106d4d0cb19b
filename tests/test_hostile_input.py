"""Every endpoint under /api/v1/ and /internal/v1/, found in the URL configuration (a new one is swept as soon as it
exists), gets hostile input: text PostgreSQL cannot store, JSON too deep, numbers too large, wrong types, bodies that
are not JSON, too many fields, bad query parameters and headers, foreign and malformed ids. None of it may be a 500,
every error has the one shape, and a refused request changes nothing.

Each request runs in a savepoint that is rolled back, so each starts from the same objects (a DELETE included).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import models, transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.models import APIKey, Membership, Workspace
from accounts.services.api_keys import api_key_create
from sessions_app.models import Delivery, DeliveryAttempt, Event, Message, WebhookEndpoint, WhatsAppSession
from sessions_app.services.webhooks.endpoints import endpoint_create
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.message_helpers import MessageFactory
from sessions_app.tests.webhook_helpers import only_delivery, publish
from workers_app.models import Worker
from workers_app.tests.factories import worker_with_token

pytestmark = pytest.mark.django_db
SWEPT: tuple[type[models.Model], ...] = (
    WhatsAppSession,
    Message,
    WebhookEndpoint,
    Delivery,
    DeliveryAttempt,
    Event,
    APIKey,
    Worker,
)
VOLATILE = {"last_used_at", "last_heartbeat_at"}  # what authenticating a request updates


def routes() -> list[tuple[str, str]]:
    """(method, route) of every API and worker API view, e.g. ("post", "api/v1/sessions/<uuid:pk>/start")."""
    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith(("api/v1/", "internal/v1/")):
                view = getattr(pattern.callback, "cls", None)
                methods = [m for m in ("get", "post", "put", "patch", "delete") if view and hasattr(view, m)]
                found.extend((method, route) for method in methods)

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


ROUTES = routes()


@dataclass
class World:
    api: APIClient
    worker: APIClient
    ids: dict[str, str]  # the first path segment of a route (sessions, webhooks, …) → an id to put in it

    def url(self, route: str, pk: str | None = None) -> str:
        kind = route.split("/")[2]
        return "/" + route.replace("<uuid:pk>", pk or self.ids.get(kind, str(uuid.uuid4())))

    def client(self, route: str) -> APIClient:
        return self.worker if route.startswith("internal/") else self.api


@pytest.fixture
def world(workspace: Workspace, api_client_for: Callable[..., Any]) -> Iterator[World]:
    worker, raw = worker_with_token()
    session = SessionFactory.create(workspace=workspace, metadata={"team": "support"})
    message = MessageFactory.create(session=session)
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        endpoint = endpoint_create(workspace=workspace, url="http://127.0.0.1:9/hook")
    delivery = only_delivery(publish(session))
    other_key = api_key_create(workspace=workspace, name="another", scopes=["sessions:read"], created_by=None)
    worker_api = APIClient()
    worker_api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    ids = {"sessions": session.pk, "messages": message.pk, "webhooks": endpoint.pk, "deliveries": delivery.pk,
           "api-keys": other_key.api_key.pk}  # fmt: skip
    with override_settings(API_RATE_LIMIT="1000000/min", API_MAX_BODY_BYTES=64 * 1024):
        yield World(api=api_client_for(workspace).client, worker=worker_api, ids={k: str(v) for k, v in ids.items()})
    assert worker  # kept alive for the worker client


def snapshot() -> list[list[str]]:
    def row(values: dict[str, Any]) -> str:
        return repr(sorted((k, v) for k, v in values.items() if k not in VOLATILE))

    return [sorted(row(values) for values in model._default_manager.values()) for model in SWEPT]


def send(world: World, method: str, url: str, client: APIClient, **request: Any) -> Any:
    """The request, in a savepoint rolled back afterwards; a refused one must have changed nothing."""
    with transaction.atomic():
        before = snapshot()
        response = getattr(client, method)(url, **request)
        after = snapshot() if 400 <= response.status_code < 500 else before
        transaction.set_rollback(True)
    described = f"{method.upper()} {url[:120]} {str(request)[:200]}"
    assert response.status_code < 500 or (response.status_code == 503 and code(response) == "worker_unavailable"), (
        f"{described} → {response.status_code} {response.content[:300]!r}"
    )
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, described
        assert set(body["error"]) == {"code", "message", "details"}, described
    assert after == before, f"{described} → {response.status_code} changed stored rows"
    return response


def code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


FIELDS = [
    "name", "engine", "pairing_method", "pairing_phone", "metadata", "start", "send_rate_per_minute", "phone",
    "push_name", "to", "type", "text", "caption", "media", "location", "contact", "reaction", "target", "reply_to",
    "mentions", "expires_in", "wait", "link_preview", "message_ids", "phones", "state", "url", "description",
    "event_types", "session_ids", "enabled", "since", "scopes", "expires_at", "events", "load", "sessions", "stored",
    "advertise_url", "capacity", "version", "enrollment_token",
]  # fmt: skip
VALUES: list[Any] = [
    None, True, -1, 0, 10**30, 1.5, "", "x" * 5000, [], {}, [[]], [{}], {"a": {"b": []}}, ["x"], "\u0665",
    "2026-13-01T25:00:00Z", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", str(uuid.uuid4()),
]  # fmt: skip
RAW_BODIES = [
    ("application/json", '{"name": "a\\u0000", "metadata": {"\\u0000": "\\ud800"}, "text": "\\udfff"}'),
    ("application/json", '{"events": [{"id": "\\u0000", "data": {"k\\u0000": 1}}], "load": "\\u0000"}'),
    ("application/json", '{"metadata": {"a": ' + deep(100) + "}, " + '"event_types": ' + deep(100) + "}"),
    ("application/json", '{"metadata": ' + deep(5000) + "}"),
    ("application/json", deep(50_000)),
    ("application/json", '{"metadata": {"n": 1e400}, "wait": 1e400, "load": 1e400, "capacity": 1e400}'),
    ("application/json", '{"load": NaN, "wait": Infinity}'),
    ("application/json", '{"load": ' + "9" * 5000 + "}"),
    ("application/json", '{"name": "x", "name": {"dup": true}}'),
    ("application/json", "[]"),
    ("application/json", '"just a string"'),
    ("application/json", "null"),
    ("application/json", "{not json"),
    ("application/json", b'{"name": "\xff\xfe"}'),
    ("application/json; charset=bz2_codec", '{"name": "x"}'),
    ("application/json; charset=no-such-charset", '{"name": "x"}'),
    ("application/json", '{"x": "' + "y" * 70_000 + '"}'),  # over the (lowered) body limit
    ("application/x-www-form-urlencoded", "name=a%00&metadata=%00&to=%00&message_ids=%00"),
    ("application/x-www-form-urlencoded", "&".join(f"f{n}=1" for n in range(1001))),
    ("application/x-www-form-urlencoded", "name=%ff%fe&to=%ED%A0%80"),
    ("text/plain", "hello"),
    ("multipart/form-data; boundary=x", "--x\r\nbroken"),
]
QUERIES = [
    "chat=%00", "status=%00", "direction=%00", "since=%00", "until=garbage", "since=0001-01-01T00:00:00%2B23:59",
    "until=9999-12-31T23:59:59-23:59", "cursor=%25%25%25", "cursor=" + base64.b64encode(b"p=garbage").decode(),
    "cursor=" + base64.b64encode(b"p=2026-01-01 00:00:00+23:00").decode(), "page_size=-1", "page_size=" + "9" * 30,
    "&".join(f"q{n}=1" for n in range(1001)), "%00=%00", "status=" + "x" * 5000, "chat=" + "x" * 5000,
]  # fmt: skip


def bodies() -> Iterator[dict[str, Any]]:
    for value in VALUES:
        yield {"data": json.dumps({field: value for field in FIELDS}), "content_type": "application/json"}
    for content_type, raw in RAW_BODIES:
        yield {"data": raw, "content_type": content_type}
    multipart = {"to": "+15550100002", "text": "a\x00", "media.filename": "\x00", "file": b"x"}
    yield {"data": multipart, "format": "multipart"}


@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_no_hostile_input_is_a_500_and_none_changes_anything(world: World, method: str, route: str) -> None:
    url, client = world.url(route), world.client(route)
    if method in ("post", "put", "patch"):
        for request in bodies():
            send(world, method, url, client, **request)
    for query in QUERIES:
        send(world, method, f"{url}?{query}", client)


@pytest.fixture
def foreign(outsider: Membership) -> dict[str, str]:
    """Ids of another workspace's objects, by the first path segment of their routes."""
    session = SessionFactory.create(workspace=outsider.workspace)
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        endpoint = endpoint_create(workspace=outsider.workspace, url="http://127.0.0.1:9/hook")
    key = api_key_create(workspace=outsider.workspace, name="theirs", scopes=["sessions:read"], created_by=None)
    ids = {"sessions": session.pk, "messages": MessageFactory.create(session=session).pk, "webhooks": endpoint.pk,
           "deliveries": only_delivery(publish(session)).pk, "api-keys": key.api_key.pk}  # fmt: skip
    return {kind: str(pk) for kind, pk in ids.items()}


@pytest.mark.parametrize(("method", "route"), [r for r in ROUTES if "<uuid:pk>" in r[1]], ids=lambda r: str(r))
def test_foreign_and_malformed_ids_are_not_found(
    world: World, foreign: dict[str, str], method: str, route: str
) -> None:
    for pk in ("not-a-uuid", "%00", "1" * 5000, "0" * 31):
        response = send(world, method, world.url(route, pk), world.client(route))
        assert (response.status_code, code(response)) == (404, "not_found"), (pk, response.content)
    unknown = send(world, method, world.url(route, str(uuid.uuid4())), world.client(route))
    theirs = send(world, method, world.url(route, foreign[route.split("/")[2]]), world.client(route))
    # Another workspace's object answers as one that does not exist: 404, or the body's validation error first.
    assert (theirs.status_code, code(theirs)) == (unknown.status_code, code(unknown))
    assert (unknown.status_code, code(unknown)) in ((404, "not_found"), (400, "validation_error"))


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_IDEMPOTENCY_KEY": "a\x00b"},
        {"HTTP_IDEMPOTENCY_KEY": "k" * 5000},
        {"HTTP_IDEMPOTENCY_KEY": "é\u200b"},
        {"HTTP_AUTHORIZATION": "Bearer \x00"},
        {"HTTP_AUTHORIZATION": "Bearer sb_live_" + "a" * 5000},
        {"HTTP_AUTHORIZATION": "Bearer é"},
        {"CONTENT_LENGTH": "-1"},
        {"CONTENT_LENGTH": "abc"},
    ],
    ids=lambda h: repr(h)[:40],
)
def test_hostile_headers_on_a_send_are_not_a_500(world: World, headers: dict[str, str]) -> None:
    url = world.url("api/v1/sessions/<uuid:pk>/messages")
    body = json.dumps({"to": "+15550100002", "text": "hi"})
    send(world, "post", url, world.api, data=body, content_type="application/json", **headers)
