"""The gateway's ASGI handler: requests are freed without the garbage collector, and their Django code runs on a
few reused threads."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import pytest
from asgiref.sync import AsyncToSync, async_to_sync
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_started

from paas.asgi_handler import SwitchboardASGIHandler

REQUESTS = 20
# Django's request signals look at the database connections (close_old_connections). Allowed for the whole module:
# under the embedded SQLite default, after any earlier test that opened the database, the stock handler's
# per-request threads were refused it.
pytestmark = pytest.mark.django_db(transaction=True)


async def _request(application: Any, path: str) -> dict[str, Any]:
    """One request as uvicorn makes it: once the response is complete, receive() reports a disconnect."""
    answered = asyncio.Event()
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    response: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response["status"] = message["status"]
        else:
            response["body"] += message.get("body", b"")
            if not message.get("more_body"):
                answered.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip
    await application(scope, receive, send)
    return response


def _get(application: Any, path: str = "/healthz", *, times: int = 1) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [await _request(application, path) for _ in range(times)]

    return async_to_sync(run)()


def _cyclic_garbage(application: Any) -> Counter[str]:
    """The types of the objects that REQUESTS requests left for the garbage collector (reference counting could not
    free them)."""

    async def run() -> None:
        await _request(application, "/healthz")  # warm-up: imports and caches are not garbage
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(REQUESTS):
                assert (await _request(application, "/healthz"))["status"] == 200
            gc.collect()
        finally:
            gc.set_debug(0)

    try:
        async_to_sync(run)()
        return Counter(type(item).__name__ for item in gc.garbage)
    finally:
        gc.garbage.clear()


@pytest.fixture
def thread_names() -> Iterator[list[str]]:
    names: list[str] = []

    def record(**kwargs: Any) -> None:
        names.append(threading.current_thread().name)

    request_started.connect(record)
    yield names
    request_started.disconnect(record)


def test_the_handler_frame_of_a_request_is_freed_at_once() -> None:
    garbage = _cyclic_garbage(SwitchboardASGIHandler())
    # Django's own cycles (request.user's lazy object, the messages storage) remain, and are small.
    assert garbage["frame"] == garbage["Task"] == garbage["traceback"] == 0
    assert sum(garbage.values()) < 50 * REQUESTS


def test_the_stock_handler_left_each_request_to_the_garbage_collector() -> None:
    """Why the handler exists (Django ticket #36700). If an upgrade of Django fixes it, the override can go."""
    garbage = _cyclic_garbage(ASGIHandler())
    assert garbage["frame"] >= REQUESTS
    assert garbage["Task"] >= REQUESTS


def test_requests_reuse_the_same_thread(thread_names: list[str]) -> None:
    application = SwitchboardASGIHandler()
    assert [answer["status"] for answer in _get(application, times=5)] == [200] * 5
    assert len(thread_names) == 5
    assert len(set(thread_names)) == 1
    assert thread_names[0].startswith("request-")


def test_answers_are_unchanged() -> None:
    [missing] = _get(SwitchboardASGIHandler(), "/api/v1/no-such-thing")
    assert missing["status"] == 404
    assert b'"code"' in missing["body"]


def _async_to_sync_calls(application: Any, times: int) -> tuple[list[int], int]:
    """The statuses of ``times`` requests, and how many async_to_sync calls they made, besides the test's own."""
    calls = 0
    original = AsyncToSync.__call__

    def counting(self: AsyncToSync, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)

    with patch.object(AsyncToSync, "__call__", counting):
        answers = _get(application, times=times)
    return [answer["status"] for answer in answers], calls - 1


def test_a_request_goes_through_middleware_and_view_without_returning_to_the_event_loop() -> None:
    statuses, calls = _async_to_sync_calls(SwitchboardASGIHandler(), 3)
    assert statuses == [200] * 3
    assert calls == 0


def test_the_stock_chain_returned_to_the_event_loop_inside_each_request() -> None:
    """Django's own chain around an async core calls back into the event loop (async_to_sync) between the
    middleware and the view: the count the test above checks is not zero by construction."""
    statuses, calls = _async_to_sync_calls(ASGIHandler(), 3)
    assert statuses == [200] * 3
    assert calls >= 3
