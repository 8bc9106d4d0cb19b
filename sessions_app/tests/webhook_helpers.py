"""Shared by the webhook tests: a receiver on 127.0.0.1 that answers as scripted and keeps what it was sent, and a
way to make every attempt of a delivery as Celery would.

paas/tests/local_http.py serves fixed GET routes only; a webhook receiver must take POSTs, keep their headers and
bodies, answer differently from one request to the next, and hang or trickle on demand.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from django.utils import timezone

from accounts.models import Workspace
from sessions_app.models import Delivery, DeliveryStatus, Event, WebhookEndpoint, WhatsAppSession
from sessions_app.services.customer_events.publish import publish_event
from sessions_app.services.webhooks.endpoints import endpoint_create
from sessions_app.tasks import deliver_webhook


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to wait before answering (cut short when the receiver closes or is released)
    trickle: float = 0.0  # send the body one byte at a time, this many seconds apart


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the request had arrived

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def _serve(self) -> None:
        owner: Receiver = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = owner.record(Received(self.command, self.path, headers, body, time.time()))
        self.close_connection = True
        if reply.hang:
            owner.released.wait(reply.hang)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.trickle:
                for byte in reply.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if owner.released.wait(reply.trickle):
                        return
            else:
                self.wfile.write(reply.body)
        except OSError:
            pass  # the sender gave up (a timeout under test): nothing more to say

    do_POST = _serve
    do_GET = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver:
    """``with Receiver() as r: r.script(Reply(500), Reply(200)); …; r.wait_for(2)``. Requests past the script get
    ``default``; ``requests`` holds every request in arrival order."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.requests: list[Received] = []
        self.released = threading.Event()
        self._replies: list[Reply] = []
        self._arrived = threading.Condition()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def script(self, *replies: Reply) -> None:
        self._replies.extend(replies)

    def record(self, received: Received) -> Reply:
        with self._arrived:
            self.requests.append(received)
            reply = self._replies.pop(0) if self._replies else self.default
            self._arrived.notify_all()
        return reply

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"{len(self.requests)} requests arrived, not {count}, within {timeout} s")
            return list(self.requests)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def receiver(*replies: Reply, default: Reply | None = None) -> Iterator[Receiver]:
    with Receiver(default) as running:
        running.script(*replies)
        yield running


def endpoint_for(workspace: Workspace, url: str, **fields: Any) -> WebhookEndpoint:
    """An endpoint made through the service (callers allow private targets for 127.0.0.1)."""
    return endpoint_create(workspace=workspace, url=url, **fields)


def publish(session: WhatsAppSession, kind: str = "message.received", **data: Any) -> Event:
    return publish_event(workspace_id=session.workspace_id, session=session, kind=kind, data=data or {"n": 1})


def only_delivery(event: Event) -> Delivery:
    [delivery] = Delivery.objects.filter(event=event)
    return delivery


def drive(delivery: Delivery | str, *, within: float = 10) -> Delivery:
    """Run the delivery task as Celery would, each time the delivery is due, until it succeeds or fails for good."""
    delivery_id = str(delivery.pk if isinstance(delivery, Delivery) else delivery)
    deadline = time.monotonic() + within
    while True:
        deliver_webhook(delivery_id)
        current = Delivery.objects.get(pk=delivery_id)
        if current.status != DeliveryStatus.PENDING:
            return current
        assert time.monotonic() < deadline, f"still pending after {within} s: {current.attempt_count} attempts"
        assert current.next_attempt_at is not None
        time.sleep(max((current.next_attempt_at - timezone.now()).total_seconds(), 0) + 0.01)
