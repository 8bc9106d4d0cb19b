"""Fixtures shared by the sessions tests: a connected session of ``workspace`` and an API client of it, and a webhook
receiver with its endpoint. A test file that needs another kind defines its own, which wins over these."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Workspace
from sessions_app.models import WebhookEndpoint, WhatsAppSession
from sessions_app.tests.message_helpers import connected_session
from sessions_app.tests.webhook_helpers import Receiver, endpoint_for, receiver


@pytest.fixture
def session(workspace: Workspace) -> WhatsAppSession:
    return connected_session(workspace=workspace)


@pytest.fixture
def client(workspace: Workspace, api_client_for: Callable[..., Any]) -> APIClient:
    """An API client of ``workspace`` with every scope."""
    keyed: APIClient = api_client_for(workspace).client
    return keyed


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


@pytest.fixture
def endpoint(workspace: Workspace, hook: Receiver) -> WebhookEndpoint:
    return endpoint_for(workspace, hook.url())
