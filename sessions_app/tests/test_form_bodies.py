"""Form-encoded and multipart bodies: a JSON object or list given in a form field is read, or refused, never dropped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Membership, Scope, Workspace
from sessions_app.models import EventType, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db
SESSIONS = "/api/v1/sessions"
WEBHOOKS = "/api/v1/webhooks"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def client(workspace: Workspace, owner: Membership, api_client_for: Callable[..., Any]) -> APIClient:
    return api_client_for(workspace).client


def form(client: APIClient, method: str, path: str, fields: list[tuple[str, str]]) -> Any:
    return getattr(client, method)(path, urlencode(fields), content_type=FORM)


@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_metadata_given_as_json_text_in_a_form_is_stored(client: APIClient, encoding: str) -> None:
    fields = {"name": "form-md", "start": "false", "metadata": '{"crm_id": "A-17", "tier": 2}'}
    if encoding == "form":
        response = form(client, "post", SESSIONS, list(fields.items()))
    else:
        response = client.post(SESSIONS, fields, format="multipart")

    assert response.status_code == 201, response.content
    assert response.json()["metadata"] == {"crm_id": "A-17", "tier": 2}
    assert WhatsAppSession.objects.get(name="form-md").metadata == {"crm_id": "A-17", "tier": 2}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"crm_id": ', "Not valid JSON"),
        ("crm_id=A-17", "Not valid JSON"),
        ('["A-17"]', "Expected a dictionary"),
        ('{"crm_id": "\\u0000"}', "Null characters are not allowed."),
        ('{"n": 1e400}', "Numbers must be finite"),
    ],
)
def test_metadata_in_a_form_that_is_no_storable_json_object_is_refused(
    client: APIClient, text: str, reason: str
) -> None:
    response = form(client, "post", SESSIONS, [("name", "bad-md"), ("start", "false"), ("metadata", text)])

    error = assert_api_error(response, 400, "validation_error")
    assert reason in " ".join(error["details"]["metadata"])
    assert not WhatsAppSession.objects.filter(name="bad-md").exists()


@pytest.mark.parametrize("depth", [70, 20_000])  # past MAX_JSON_DEPTH, and past the JSON parser's recursion limit
def test_metadata_in_a_form_nested_too_deep_is_refused(client: APIClient, depth: int) -> None:
    text = '{"a":' * depth + "1" + "}" * depth

    assert_api_error(form(client, "post", SESSIONS, [("name", "deep"), ("metadata", text)]), 400, "json_too_deep")


def test_a_form_update_replaces_metadata_and_the_dotted_form_still_works(
    client: APIClient, workspace: Workspace
) -> None:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace, metadata={"old": True})

    response = form(client, "patch", f"{SESSIONS}/{session.id}", [("metadata", '{"crm_id": "B-2"}')])
    assert response.status_code == 200, response.content
    assert response.json()["metadata"] == {"crm_id": "B-2"}

    response = form(client, "patch", f"{SESSIONS}/{session.id}", [("metadata.crm_id", "C-3")])
    assert response.status_code == 200, response.content
    session.refresh_from_db()
    assert session.metadata == {"crm_id": "C-3"}


def test_json_bodies_read_metadata_as_before(client: APIClient) -> None:
    response = client.post(SESSIONS, {"name": "json-md", "start": False, "metadata": {"a": [1]}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["metadata"] == {"a": [1]}

    response = client.post(SESSIONS, {"name": "json-text", "start": False, "metadata": '{"a": 1}'}, format="json")
    assert_api_error(response, 400, "validation_error")  # JSON text inside JSON is not an object


@pytest.fixture
def webhooks(workspace: Workspace, api_client_for: Callable[..., Any]) -> Iterator[APIClient]:
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        yield api_client_for(workspace, [Scope.WEBHOOKS_MANAGE]).client


def test_webhook_lists_in_a_form_are_repeated_fields_and_json_text_is_refused(
    webhooks: APIClient, workspace: Workspace
) -> None:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace)
    types = [EventType.MESSAGE_RECEIVED, EventType.SESSION_STATUS]
    fields = [
        ("url", "http://127.0.0.1:9/hook"),
        *(("event_types", t) for t in types),
        ("session_ids", str(session.id)),
    ]

    created = form(webhooks, "post", WEBHOOKS, fields)
    assert created.status_code == 201, created.content
    assert created.json()["event_types"] == types
    assert created.json()["session_ids"] == [str(session.id)]

    for name, text in [("event_types", '["message.received"]'), ("session_ids", f'["{session.id}"]')]:
        path = f"{WEBHOOKS}/{created.json()['id']}"
        error = assert_api_error(form(webhooks, "patch", path, [(name, text)]), 400, "validation_error")
        assert name in error["details"]
    updated = form(webhooks, "patch", f"{WEBHOOKS}/{created.json()['id']}", [("event_types", types[0])])
    assert updated.status_code == 200, updated.content
    assert updated.json()["event_types"] == [types[0]]
