"""Commands to a worker over real HTTP: signed, answers passed back, failures as stable API errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import override_settings

from paas.api.errors import APIError
from worker_node.contract.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from workers_app.client import WorkerUnavailable, call_worker
from workers_app.tests.factories import UNREACHABLE_URL, WorkerFactory

pytestmark = pytest.mark.django_db


class FakeWorker(BaseHTTPRequestHandler):
    """Answers each POST as ``self.server.answer`` says: (status, content type, body, seconds to wait first), and
    keeps the connection open for the next one (HTTP/1.1)."""

    server: Any
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, dict(self.headers), body))
        self.server.client_ports.append(self.client_address[1])
        status, content_type, answer, wait = self.server.answer
        time.sleep(wait)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_worker() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWorker)
    server.received = []  # type: ignore[attr-defined]
    server.client_ports = []  # type: ignore[attr-defined]
    server.answer = (200, "application/json", b"{}", 0.0)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def answer(server: ThreadingHTTPServer, status: int, body: Any, *, content_type: str = "application/json",
           wait: float = 0.0) -> None:  # fmt: skip
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    server.answer = (status, content_type, raw, wait)  # type: ignore[attr-defined]


def worker_at(server: ThreadingHTTPServer) -> Any:
    return WorkerFactory.create(advertise_url=f"http://127.0.0.1:{server.server_address[1]}/")


def test_a_command_is_signed_with_the_workers_token_and_its_answer_returned(fake_worker: ThreadingHTTPServer) -> None:
    worker = worker_at(fake_worker)
    answer(fake_worker, 200, {"accepted": ["m1"]})

    assert call_worker(worker, "/sessions/s1/outbox", {"messages": [1]}) == {"accepted": ["m1"]}

    [(path, headers, body)] = fake_worker.received  # type: ignore[attr-defined]
    assert (path, json.loads(body)) == ("/sessions/s1/outbox", {"messages": [1]})
    assert verify(worker.token_hash, "POST", path, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER])


def test_connections_are_kept_alive_between_commands(fake_worker: ThreadingHTTPServer) -> None:
    worker = worker_at(fake_worker)

    for _ in range(3):
        call_worker(worker, "/ping", {})

    assert len(fake_worker.client_ports) == 3  # type: ignore[attr-defined]
    assert len(set(fake_worker.client_ports)) == 1  # type: ignore[attr-defined]  # one connection for all three


def test_a_refusal_is_a_409_with_the_workers_code_and_message(fake_worker: ThreadingHTTPServer) -> None:
    answer(fake_worker, 409, {"error": {"code": "stale_epoch", "message": "Epoch 3 is not current."}})

    with pytest.raises(APIError) as raised:
        call_worker(worker_at(fake_worker), "/sessions/s1/outbox", {})

    assert (raised.value.status_code, raised.value.error_code, str(raised.value.detail)) == (
        409, "stale_epoch", "Epoch 3 is not current.",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [(400, b"not json", "text/plain"), (302, b"", "text/plain"), (404, b"{broken", "application/json")],
)
def test_other_refusals_and_redirects_are_a_409_worker_refused(
    fake_worker: ThreadingHTTPServer, status: int, body: bytes, content_type: str
) -> None:
    answer(fake_worker, status, body, content_type=content_type)

    with pytest.raises(APIError) as raised:
        call_worker(worker_at(fake_worker), "/x", {})

    assert (raised.value.status_code, raised.value.error_code) == (409, "worker_refused")
    assert len(fake_worker.received) == 1  # type: ignore[attr-defined]  # the redirect was not followed


def test_a_server_error_is_a_503_worker_unavailable(fake_worker: ThreadingHTTPServer) -> None:
    answer(fake_worker, 500, {"error": {"code": "boom"}})

    with pytest.raises(WorkerUnavailable) as raised:
        call_worker(worker_at(fake_worker), "/x", {})

    assert (raised.value.status_code, raised.value.error_code) == (503, "worker_unavailable")
    assert len(fake_worker.received) == 1  # type: ignore[attr-defined]  # not retried


def test_a_worker_that_does_not_answer_in_time_is_unavailable(fake_worker: ThreadingHTTPServer) -> None:
    answer(fake_worker, 200, {}, wait=1.0)
    started = time.monotonic()

    with override_settings(WORKER_COMMAND_TIMEOUT=0.2), pytest.raises(WorkerUnavailable):
        call_worker(worker_at(fake_worker), "/x", {})

    assert time.monotonic() - started < 0.9


def test_a_worker_nobody_listens_for_is_unavailable() -> None:
    with pytest.raises(WorkerUnavailable):
        call_worker(WorkerFactory.create(advertise_url=UNREACHABLE_URL), "/x", {})
