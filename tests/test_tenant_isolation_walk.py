"""Every operation under /api/v1/ whose path names an object answers a caller of another workspace 404 not_found, in
the API's error shape and exactly as for an id that does not exist, and leaves the object as it was.

The operations come from walking the URL resolver, not from a list kept by hand: an endpoint added with an id in its
path fails here until OUTSIDER_CASES says which object of the owner's workspace its outsider request names."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.models import APIKey, Membership, Workspace
from accounts.services.api_keys import api_key_create
from sessions_app.models import Delivery, Event, Message, SessionState, WebhookEndpoint, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.helpers import put_snapshot
from sessions_app.tests.message_helpers import inbound
from sessions_app.tests.webhook_helpers import endpoint_for, only_delivery, publish
from workers_app.tests.factories import WorkerFactory
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db
API = "api/v1/"
# HEAD and OPTIONS are Django's and DRF's own answers for every view; the walk looks at what each view implements.
IMPLICIT_METHODS = {"head", "options"}


@dataclass(frozen=True)
class World:
    """Objects of the owner's workspace that every operation could act on."""

    session: WhatsAppSession
    message: Message
    webhook: WebhookEndpoint
    delivery: Delivery
    api_key: APIKey
    stored: tuple[str, ...]  # object paths in storage: a snapshot and a received media file


@dataclass(frozen=True)
class Case:
    """The outsider's request: which object of the owner's workspace (a field of ``World``) the path names, and a body
    that would be valid for the owner, so the 404 can only come from the object being someone else's."""

    target: str
    body: dict[str, Any] | Callable[[World], dict[str, Any]] | None = None


# (URL name, method) → the outsider's request. A new operation with an id in its path needs an entry.
OUTSIDER_CASES: dict[tuple[str, str], Case] = {
    ("api-key-detail", "get"): Case("api_key"),
    ("api-key-detail", "delete"): Case("api_key"),
    ("api-session-detail", "get"): Case("session"),
    ("api-session-detail", "patch"): Case("session", {"name": "mine now", "metadata": {"owner": "outsider"}}),
    ("api-session-detail", "delete"): Case("session"),
    ("api-session-start", "post"): Case("session", {}),
    ("api-session-stop", "post"): Case("session", {}),
    ("api-session-restart", "post"): Case("session", {}),
    ("api-session-logout", "post"): Case("session", {}),
    ("api-session-qr", "get"): Case("session"),
    ("api-session-qr-png", "get"): Case("session"),
    ("api-session-qr-svg", "get"): Case("session"),
    ("api-session-pairing-code", "post"): Case("session", {"phone": "+4915112345678"}),
    ("api-session-sandbox-scan", "post"): Case("session", {"phone": "+15550100777"}),
    ("api-session-messages", "get"): Case("session"),
    ("api-session-messages", "post"): Case("session", {"to": "+15550100002", "text": "hello from outside"}),
    ("api-session-mark-read", "post"): Case("session", lambda world: {"message_ids": [str(world.message.pk)]}),
    ("api-session-chats", "get"): Case("session"),
    ("api-session-check", "post"): Case("session", {"phones": ["+15550100002"]}),
    ("api-session-presence", "post"): Case("session", {"to": "+15550100002", "state": "composing"}),
    ("api-message-detail", "get"): Case("message"),
    ("api-message-media", "get"): Case("message"),
    ("api-webhook-detail", "get"): Case("webhook"),
    ("api-webhook-detail", "patch"): Case("webhook", {"description": "mine now", "enabled": False}),
    ("api-webhook-detail", "delete"): Case("webhook"),
    ("api-webhook-rotate-secret", "post"): Case("webhook", {}),
    ("api-webhook-test", "post"): Case("webhook", {}),
    ("api-webhook-replay", "post"): Case("webhook", {"since": "2000-01-01T00:00:00Z"}),
    ("api-webhook-deliveries", "get"): Case("webhook"),
    ("api-delivery-detail", "get"): Case("delivery"),
    ("api-delivery-replay", "post"): Case("delivery", {}),
}


def _walk(patterns: list[Any], prefix: str = "", takes_id: bool = False) -> Iterator[tuple[str, URLPattern, bool]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        # A path converter (<uuid:pk>) or a regex group anywhere along the way takes a value from the path.
        has_id = takes_id or bool(getattr(entry.pattern, "converters", None)) or entry.pattern.regex.groups > 0
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route, has_id)
        else:
            yield route, entry, has_id


def operations_with_ids() -> list[tuple[str, str]]:
    """(URL name, method) of every operation under /api/v1/ whose path takes an object id."""
    found = []
    for route, pattern, takes_id in _walk(get_resolver().url_patterns):
        if not route.startswith(API) or not takes_id:
            continue
        assert pattern.name, f"{route} has no URL name to register its outsider case under"
        view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        assert view is not None, f"{route} is not a class-based view: which methods it takes cannot be read"
        found += [
            (pattern.name, method)
            for method in view.http_method_names
            if method not in IMPLICIT_METHODS and hasattr(view, method)
        ]
    return found


OPERATIONS = operations_with_ids()


def test_the_walk_finds_every_operation_with_an_id_and_no_case_is_left_over() -> None:
    walked = set(OPERATIONS)

    assert ("api-session-detail", "delete") in walked  # the walk reaches both included URL modules
    assert ("api-key-detail", "get") in walked
    assert not set(OUTSIDER_CASES) - walked, "cases for operations that no longer exist"


@pytest.fixture
def world(workspace: Workspace, owner: Membership) -> World:
    session = SessionFactory.create(
        workspace=workspace,
        worker=WorkerFactory.create(),
        epoch=2,
        state=SessionState.SCAN_QR,
        qr_code="2@secret-qr",
        phone="+15550100777",
    )
    media = default_storage.save(f"inbound/{session.pk}/3EB0W/note.ogg", ContentFile(b"OggS secret voice"))
    message = inbound(session, "3EB0W", type="voice", media_path=media, media_mime="audio/ogg")
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        webhook = endpoint_for(workspace, "http://127.0.0.1:9/hook")
    delivery = only_delivery(publish(session))
    api_key = api_key_create(workspace=workspace, name="theirs", scopes=[], created_by=None).api_key
    return World(session, message, webhook, delivery, api_key, (put_snapshot(session), media))


def workspace_rows(workspace: Workspace) -> dict[str, list[dict[str, Any]]]:
    """Everything of ``workspace`` that an operation of the walk could change."""
    owned: list[type[models.Model]] = [WhatsAppSession, Message, WebhookEndpoint, Delivery, Event, APIKey]
    return {
        model.__name__: list(model._default_manager.filter(workspace=workspace).order_by("pk").values())
        for model in owned
    }


def request(client: APIClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


@pytest.mark.parametrize(
    ("name", "method"), OPERATIONS, ids=[f"{method.upper()} {name}" for name, method in OPERATIONS]
)
def test_the_outsider_gets_not_found_for_another_workspaces_object(
    world: World,
    workspace: Workspace,
    outsider: Membership,
    api_client_for: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
    name: str,
    method: str,
) -> None:
    case = OUTSIDER_CASES.get((name, method))
    if case is None:
        pytest.fail(f"{method.upper()} {name} takes an object id but has no outsider case in OUTSIDER_CASES")
    target = getattr(world, case.target)
    body = case.body(world) if callable(case.body) else case.body
    client = api_client_for(outsider.workspace).client
    before = workspace_rows(workspace)

    # Whatever a leak would do after commit (commands to the worker, webhook deliveries) runs here too.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = request(client, method, reverse(name, kwargs={"pk": target.pk}), body)
    unknown = request(client, method, reverse(name, kwargs={"pk": uuid.uuid4()}), body)

    error = assert_api_error(response, 404, "not_found")
    assert error == assert_api_error(unknown, 404, "not_found")
    assert b"secret" not in response.content
    assert callbacks == []
    assert workspace_rows(workspace) == before
    assert all(default_storage.exists(path) for path in world.stored)
