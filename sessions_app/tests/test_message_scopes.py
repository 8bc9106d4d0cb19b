"""Reading messages needs messages:read, sending and acting in chats messages:send; a key without the scope gets 403
missing_scope and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest.mock import patch

import pytest
from rest_framework.test import APIClient

from accounts.models import Scope, Workspace
from sessions_app.models import Message
from sessions_app.tests.message_helpers import PEER_PHONE, connected_session, inbound
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db
READ, SEND = Scope.MESSAGES_READ, Scope.MESSAGES_SEND

ENDPOINTS = [
    pytest.param("get", "/sessions/{session}/messages", None, READ, id="history"),
    pytest.param("post", "/sessions/{session}/messages", {"to": PEER_PHONE, "text": "hi"}, SEND, id="send"),
    pytest.param("get", "/sessions/{session}/chats", None, READ, id="chats"),
    pytest.param("post", "/sessions/{session}/messages/read", {"message_ids": ["{message}"]}, SEND, id="mark-read"),
    pytest.param("post", "/sessions/{session}/presence", {"to": PEER_PHONE, "state": "composing"}, SEND, id="presence"),
    pytest.param("post", "/sessions/{session}/contacts/check", {"phones": [PEER_PHONE]}, READ, id="check-numbers"),
    pytest.param("get", "/messages/{message}", None, READ, id="message"),
    pytest.param("get", "/messages/{message}/media", None, READ, id="media"),
]


def call(client: APIClient, method: str, path: str, body: dict[str, Any] | None, ids: dict[str, str]) -> Any:
    url = "/api/v1" + path.format(**ids)
    if method == "get":
        return client.get(url)
    filled = {k: [item.format(**ids) for item in v] if k == "message_ids" else v for k, v in (body or {}).items()}
    return client.post(url, filled, format="json")


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_key_without_the_scope_is_refused_and_nothing_happens(
    workspace: Workspace, api_client_for: Callable[..., Any], method: str, path: str, body: Any, scope: str
) -> None:
    session = connected_session(workspace=workspace)
    message = inbound(session, "3EB0IN")
    others = [s for s in Scope.values if s != scope]
    client = api_client_for(workspace, others).client

    with (
        patch("workers_app.client.call_worker") as worker,
        patch("workers_app.client.call_worker") as chat,
    ):
        response = call(client, method, path, body, {"session": str(session.pk), "message": str(message.pk)})

    assert_api_error(response, 403, "missing_scope")
    assert worker.call_count == chat.call_count == 0
    assert list(Message.objects.values_list("pk", "unread")) == [(message.pk, True)]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_key_with_only_the_scope_gets_past_the_scope_check(
    workspace: Workspace, api_client_for: Callable[..., Any], method: str, path: str, body: Any, scope: str
) -> None:
    session = connected_session(workspace=workspace)
    message = inbound(session, "3EB0IN")
    client = api_client_for(workspace, [scope]).client

    with patch("workers_app.client.call_worker", return_value={"results": []}):
        response = call(client, method, path, body, {"session": str(session.pk), "message": str(message.pk)})

    assert response.status_code != 403, response.content
    # The media of a text message is the one expected refusal, and it is not about scopes.
    assert response.status_code < 400 or response.json()["error"]["code"] == "no_media"
