"""Django's ASGI handler, with three costs of the stock one removed from every request.

1. A thread per request. Django 5.2 enters a fresh ``ThreadSensitiveContext`` for each request, so its sync code
   (middleware, DRF views, the ORM) ran on a new thread that was started and joined every time, with a new database
   wrapper and cache client each (the database connection itself comes from the pool). Here each request borrows one
   of ``GATEWAY_SYNC_THREADS`` long-lived single-thread executors, the way a WSGI server reuses its threads; asgiref
   supports handing such an executor to the context. When all are busy a request waits for one.

2. A reference cycle per request (Django ticket #36700). ``handle`` runs the view and a task listening for the client
   going away side by side. That listener ended with an exception on every request: RequestAborted when the server
   reports the finished response as a disconnect (uvicorn does), or CancelledError when Django cancels it. The
   exception stayed on the task, its traceback held ``handle``'s frame, and that frame held the task: the whole
   request (request, response, view, serializers, model instances) became cyclic garbage, freed only by full
   collections under load that stalled every request in flight. Here the listener returns instead.
   In Django 5.2 ``handle`` treats a listener that returned exactly like one that raised (it cancels the view if it
   is still running and ignores the listener's outcome).

3. Two trips through the event loop per request. Django builds the middleware chain for ASGI around an async core:
   our middleware and views are all synchronous, so the request went to its thread for the middleware, back to the
   event loop for the core (``async_to_sync``), and to the thread again for the view, waiting each time for the
   event loop's turn and the GIL. Here the chain is built as under WSGI and the whole of it (middleware, view) runs
   in one call on the request's thread, with less CPU per request. An async view would still work (Django runs it
   with ``async_to_sync``); there is none.

4. A body sent with ``Transfer-Encoding: chunked`` under /api/ and /internal/ is refused with 411 before it is read.
   Django spools the whole body but takes its length only from Content-Length, and DRF reads no body at all without
   one, so such a body was silently empty (a create answered "name: This field is required"), and a body of any
   size was stored in a temporary file first. The worker node (aiohttp with ``json=``) sends Content-Length.

``python -m bench.layers`` measures this handler beside the stock one (bench/README.md). Django is pinned; what the
handler leans on of ``ASGIHandler`` is listed in paas/INTERNALS.md (1), paas/tests/test_internals.py fails when that
code changes, and paas/tests/test_asgi_handler.py checks the behaviour and the absence of the cycle.
"""

from __future__ import annotations

import asyncio
import gc
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler


class SwitchboardASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._idle: asyncio.LifoQueue[ThreadPoolExecutor] | None = None

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)  # see 3. in the module's docstring

    async def get_response_async(self, request: Any) -> Any:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    def _executors(self) -> asyncio.LifoQueue[ThreadPoolExecutor]:
        if self._idle is None:  # made on first use, on the server's event loop
            self._idle = asyncio.LifoQueue()  # the most recently used thread first: its state is warm
            for n in range(settings.GATEWAY_SYNC_THREADS):
                self._idle.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{n}"))
        return self._idle

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if _chunked_api_request(scope):
            await _length_required(send)
            return
        idle = self._executors()
        executor = await idle.get()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            idle.put_nowait(executor)

    async def listen_for_disconnect(self, receive: Any) -> None:
        try:
            message = await receive()
        except asyncio.CancelledError:
            return  # the response is done and Django's handle() stops listening
        if message["type"] != "http.disconnect":
            raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")
        # The client went away (or the response is complete): handle() cancels the view if it is still running.


def _chunked_api_request(scope: Any) -> bool:
    # paas.asgi imports this module before Django is set up; paas.api.errors loads DRF, which needs it set up.
    from paas.api.errors import is_api_path

    return is_api_path(scope["path"]) and any(name.lower() == b"transfer-encoding" for name, _ in scope["headers"])


async def _length_required(send: Any) -> None:
    from paas.api.errors import error_body  # after set-up, as in _chunked_api_request

    message = "Send the request body with a Content-Length header; chunked bodies are not accepted."
    body = json.dumps(error_body("length_required", message)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"connection", b"close"),  # the unread body must not be taken for the next request
    ]
    await send({"type": "http.response.start", "status": 411, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def get_asgi_application() -> SwitchboardASGIHandler:
    django.setup(set_prefix=False)
    return SwitchboardASGIHandler()


def freeze_startup_objects() -> None:
    """Move what start-up built (modules, URL patterns, settings: about 130,000 objects) out of the collector's
    reach. Every full collection walked them all, although they live as long as the process."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module now, before the freeze
    gc.collect()
    gc.freeze()
