"""The gateway's client and the worker's server share one route table: every command the client sends has a handler
on the worker, and the worker serves nothing the contract does not name."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from sessions_app.tests.factories import SessionFactory
from worker_node.contract.commands import ROUTES, UNSIGNED_PATHS
from worker_node.server import build_app
from workers_app.client import WorkerClient
from workers_app.tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db

CALLS: list[tuple[str, Any]] = [
    ("pair_phone", ("15550100777",)),
    ("sandbox", ("scan", {})),
    ("outbox", ({"epoch": 1, "rate_per_minute": 30, "messages": []},)),
    ("mark_read", ({"chat_jid": "a@s.whatsapp.net", "sender_jid": "a@s.whatsapp.net", "wa_ids": ["X"]},)),
    ("check_numbers", (["15550100777"],)),
    ("presence", ({"to": "a@s.whatsapp.net", "state": "composing"},)),
]


def _resolves(path: str) -> bool:
    app = build_app(mock.Mock(), lambda: "00")
    match = asyncio.run(app.router.resolve(make_mocked_request("POST", path, app=app)))
    return match.http_exception is None


def test_every_client_command_has_a_route_on_the_worker(django_capture_on_commit_callbacks: Any) -> None:
    session = SessionFactory.create(worker=WorkerFactory.create())
    client = WorkerClient(session)
    sent: list[str] = []
    commands = ("start", "stop", "logout", "forget")

    def call_worker(worker: Any, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        sent.append(path)
        return {}

    with (
        mock.patch("workers_app.client.call_worker", side_effect=call_worker),
        mock.patch("workers_app.client._background.submit", side_effect=lambda send: send()),
        django_capture_on_commit_callbacks(execute=True),
    ):
        for method, args in CALLS:
            getattr(client, method)(*args)
        for command in commands:
            client.lifecycle_after_commit(command)  # type: ignore[arg-type]

    assert len(sent) == len(CALLS) + len(commands) == len(ROUTES)
    assert [path for path in sent if not _resolves(path)] == []


def test_the_worker_serves_only_the_contracts_routes() -> None:
    app = build_app(mock.Mock(), lambda: "00")
    served = {resource.canonical for resource in app.router.resources()}
    assert served == set(ROUTES.values()) | UNSIGNED_PATHS
