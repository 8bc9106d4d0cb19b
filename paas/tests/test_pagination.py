"""Every list pages with cursors it handed out and a page_size from 1 to 200; anything else is a 400 with its own
code, never the first page as if nothing had been asked, and never a 500."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Workspace
from paas.tests.test_api_errors import assert_error
from sessions_app.models import WhatsAppSession
from sessions_app.services.webhooks.endpoints import endpoint_create
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.message_helpers import MessageFactory
from sessions_app.tests.webhook_helpers import publish

pytestmark = pytest.mark.django_db


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


LISTS = [
    "/api/v1/sessions",
    "/api/v1/sessions/{session}/messages",
    "/api/v1/webhooks",
    "/api/v1/webhooks/{endpoint}/deliveries",
    "/api/v1/deliveries",
    "/api/v1/api-keys",
]
BAD_CURSORS = [
    pytest.param(b64("p=garbage"), id="position-garbage"),  # was a 500
    pytest.param("%%%", id="not-base64"),  # was the first page
    pytest.param(b64("p=2026-03-01 12:00:00"), id="position-without-time-zone"),
    pytest.param(b64("p=0001-01-01 00:00:00+23:59"), id="position-before-year-1-in-utc"),
    pytest.param(b64("p=2026-03-01 12:00:00+00:00&p=2026-03-02 12:00:00+00:00"), id="two-positions"),
    pytest.param(b64("o=-1"), id="negative-offset"),
    pytest.param(b64("o=1e3"), id="offset-not-a-number"),
    pytest.param(b64("o=" + "9" * 30), id="offset-huge"),
    pytest.param(b64("r=2"), id="reverse-not-0-or-1"),
    pytest.param(b64("x=1"), id="unknown-token"),
    pytest.param(b64("p"), id="token-without-value"),
    pytest.param(base64.b64encode(b"p=\xff").decode(), id="not-ascii-inside"),
    pytest.param("bz0xMA", id="without-padding"),  # o=10
    pytest.param("é", id="not-ascii"),
]
BAD_PAGE_SIZES = ["-1", "0", "abc", str(10**23), "201", "", " 5", "1.5", "\u0665"]


@pytest.fixture
def client(workspace: Workspace, api_client_for: Callable[..., Any]) -> APIClient:
    return api_client_for(workspace).client


@pytest.fixture
def urls(workspace: Workspace) -> dict[str, str]:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace)
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        endpoint = endpoint_create(workspace=workspace, url="http://127.0.0.1:9/hook")
    MessageFactory.create(session=session)
    publish(session)
    return {"session": str(session.pk), "endpoint": str(endpoint.pk)}


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_cursor_we_did_not_hand_out_is_refused(
    client: APIClient, urls: dict[str, str], path: str, cursor: str
) -> None:
    error = assert_error(client.get(path.format(**urls), {"cursor": cursor}), 400, "invalid_cursor")
    assert set(error["details"]) == {"cursor"}


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("page_size", BAD_PAGE_SIZES)
def test_a_page_size_outside_1_to_200_is_refused(
    client: APIClient, urls: dict[str, str], path: str, page_size: str
) -> None:
    error = assert_error(client.get(path.format(**urls), {"page_size": page_size}), 400, "invalid_page_size")
    assert error["details"] == {"page_size": ["page_size must be a whole number from 1 to 200."]}


@pytest.mark.parametrize("page_size", ["1", "200", "007"])
def test_a_page_size_from_1_to_200_is_taken(client: APIClient, urls: dict[str, str], page_size: str) -> None:
    response = client.get("/api/v1/sessions", {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_the_cursors_handed_out_page_forward_and_back(client: APIClient, workspace: Workspace) -> None:
    sessions = SessionFactory.create_batch(5, workspace=workspace)
    newest_first = [str(s.pk) for s in reversed(sessions)]

    first = client.get("/api/v1/sessions", {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    again = client.get(second["previous"]).json()

    assert [s["id"] for s in first["results"] + second["results"]] == newest_first[:4]
    assert again["results"] == first["results"]


def test_an_empty_cursor_is_the_first_page(client: APIClient, urls: dict[str, str]) -> None:
    # What DRF writes for a cursor with nothing to say (offset 0, forward, no position).
    response = client.get("/api/v1/sessions", {"cursor": ""})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1
