"""Pairing by phone code and the sandbox's scan: refused unless the session is waiting to be paired, and carried out
by the session's worker (here a real worker command server with the sandbox engine, in a thread)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import pytest
from aiohttp import web
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Workspace
from sessions_app.models import SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from worker_node.engines.base import SessionSpec
from worker_node.engines.sandbox import SandboxEngine
from worker_node.host import SessionHost
from worker_node.server import build_app
from worker_node.spool import Spool
from worker_node.tests.memory_snapshots import MemorySnapshots
from workers_app.models import Engine, Worker
from workers_app.tests.factories import WorkerFactory, worker_with_token
from workers_app.tests.helpers import assert_api_error, worker_client

pytestmark = pytest.mark.django_db
T = TypeVar("T")
PHONE = "+4915112345678"


def url(session: WhatsAppSession, action: str) -> str:
    return f"/api/v1/sessions/{session.pk}/{action}"


# --- refusals (no worker needed) --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [SessionState.STARTING, SessionState.CONNECTED, SessionState.STOPPED])
@pytest.mark.parametrize(
    ("action", "body"), [("pairing-code", {"phone": PHONE}), ("sandbox/scan", {"phone": "+15550100777"})]
)
def test_pairing_is_refused_when_the_session_is_not_pairing(
    workspace: Workspace, client: APIClient, state: str, action: str, body: dict[str, Any]
) -> None:
    session = SessionFactory.create(workspace=workspace, worker=WorkerFactory.create(), state=state)

    response = client.post(url(session, action), body, format="json")

    assert_api_error(response, 409, "session_not_pairing")
    assert WhatsAppSession.objects.get(pk=session.pk).state == state


@pytest.mark.parametrize("action", ["pairing-code", "sandbox/scan"])
def test_pairing_is_refused_when_the_session_has_no_worker(
    workspace: Workspace, client: APIClient, action: str
) -> None:
    session = SessionFactory.create(workspace=workspace, worker=None, state=SessionState.SCAN_QR, qr_code="2@x")

    response = client.post(url(session, action), {"phone": PHONE}, format="json")

    assert_api_error(response, 409, "session_not_pairing")


@pytest.mark.parametrize(
    "phone",
    [
        pytest.param("", id="blank"),
        pytest.param("call me", id="words"),
        pytest.param("+1555012", id="too-short"),
        pytest.param("+999123456789", id="no-such-country"),
    ],
)
def test_an_invalid_phone_for_a_pairing_code_is_refused(workspace: Workspace, client: APIClient, phone: str) -> None:
    session = SessionFactory.create(
        workspace=workspace, worker=WorkerFactory.create(), state=SessionState.SCAN_QR, qr_code="2@x"
    )

    response = client.post(url(session, "pairing-code"), {"phone": phone}, format="json")

    error = assert_api_error(response, 400, "validation_error")
    assert "phone" in error["details"]


@override_settings(SESSION_ENGINES=["sandbox", "neonize"])
def test_a_fictional_number_is_refused_for_whatsapp_but_is_a_sandbox_number(
    workspace: Workspace, client: APIClient
) -> None:
    real = SessionFactory.create(
        workspace=workspace, engine="neonize", worker=WorkerFactory.create(), state=SessionState.SCAN_QR, qr_code="2@x"
    )
    response = client.post(url(real, "pairing-code"), {"phone": "+15550100777"}, format="json")
    assert "phone" in assert_api_error(response, 400, "validation_error")["details"]

    sandbox = SessionFactory.create(
        workspace=workspace, engine="sandbox", worker=WorkerFactory.create(), state=SessionState.SCAN_QR, qr_code="2@x"
    )
    with mock.patch("workers_app.client.call_worker", return_value={"code": "ABCD-EFGH"}) as call:
        response = client.post(url(sandbox, "pairing-code"), {"phone": "+15550100777"}, format="json")
    assert response.status_code == 200, response.content
    assert call.call_args.args[2]["phone"] == "15550100777"


def test_a_pairing_code_needs_a_phone(workspace: Workspace, client: APIClient) -> None:
    session = SessionFactory.create(workspace=workspace, worker=WorkerFactory.create(), state=SessionState.SCAN_QR)

    response = client.post(url(session, "pairing-code"), {}, format="json")

    error = assert_api_error(response, 400, "validation_error")
    assert "phone" in error["details"]


def test_an_invalid_sandbox_phone_is_refused(workspace: Workspace, client: APIClient) -> None:
    session = SessionFactory.create(workspace=workspace, worker=WorkerFactory.create(), state=SessionState.SCAN_QR)

    response = client.post(url(session, "sandbox/scan"), {"phone": "+1555012"}, format="json")

    error = assert_api_error(response, 400, "validation_error")
    assert "phone" in error["details"]


@override_settings(SESSION_ENGINES=["sandbox", "neonize"])
@pytest.mark.parametrize("state", [SessionState.SCAN_QR, SessionState.CONNECTED])
def test_the_sandbox_scan_does_not_exist_for_a_real_whatsapp_session(
    workspace: Workspace, client: APIClient, state: str
) -> None:
    session = SessionFactory.create(
        workspace=workspace,
        engine=Engine.NEONIZE,
        worker=WorkerFactory.create(engine=Engine.NEONIZE),
        state=state,
        qr_code="2@x",
    )

    response = client.post(url(session, "sandbox/scan"), {}, format="json")

    assert_api_error(response, 404, "not_found")


def test_an_unreachable_worker_is_reported_as_unavailable(workspace: Workspace, client: APIClient) -> None:
    session = SessionFactory.create(
        workspace=workspace, worker=WorkerFactory.create(), state=SessionState.SCAN_QR, qr_code="2@x"
    )

    response = client.post(url(session, "pairing-code"), {"phone": PHONE}, format="json")

    assert_api_error(response, 503, "worker_unavailable")
    assert WhatsAppSession.objects.get(pk=session.pk).pairing_code == ""


# --- with a real worker command server --------------------------------------------------------------------------


class ServedWorker:
    """The worker's command server and session host, on their own event loop in a thread."""

    def __init__(self, worker: Worker, raw_token: str, host: SessionHost, spool: Spool, loop: Any) -> None:
        self.worker, self.raw_token, self.host, self.spool, self.loop = worker, raw_token, host, spool, loop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def run_session(self, session: WhatsAppSession) -> None:
        self.run(self.host.ensure(SessionSpec(id=str(session.pk), epoch=session.epoch, engine=session.engine)))

    def relay_events(self) -> None:
        """Ship the spooled events to the gateway, as the worker's shipping loop does."""
        self.run(asyncio.sleep(0.05))  # let the engine's callbacks reach the spool
        batch = self.spool.batch(100)
        if not batch:
            return
        response = worker_client(self.raw_token).post("/internal/v1/events", {"events": batch}, format="json")
        assert response.status_code == 200, response.content
        self.spool.confirm([event["id"] for event in batch])

    def relay_until(self, session: WhatsAppSession, done: Callable[[WhatsAppSession], bool]) -> WhatsAppSession:
        """Relay events until the session, as the gateway records it, satisfies ``done`` (5 s at most)."""
        for _ in range(100):
            self.relay_events()
            session.refresh_from_db()
            if done(session):
                break
        return session


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedWorker]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    spool = Spool(tmp_path / "spool.sqlite3")
    host = SessionHost(
        engine=SandboxEngine(qr_schedule=(30,)),
        data_dir=tmp_path,
        spool=spool,
        snapshots=MemorySnapshots().as_store(),
        snapshot_debounce=60,
    )
    worker, raw = worker_with_token()
    runner = web.AppRunner(build_app(host, lambda: worker.token_hash))
    serving = ServedWorker(worker, raw, host, spool, loop)
    serving.run(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    serving.run(site.start())
    port = runner.addresses[0][1]
    Worker.objects.filter(pk=worker.pk).update(advertise_url=f"http://127.0.0.1:{port}")
    worker.refresh_from_db()
    try:
        yield serving
    finally:
        serving.run(host.shutdown())
        serving.run(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        spool.close()


def scanning_session(workspace: Workspace, served: ServedWorker) -> WhatsAppSession:
    session = SessionFactory.create(workspace=workspace, worker=served.worker, epoch=1, state=SessionState.STARTING)
    served.run_session(session)
    served.relay_until(session, lambda s: s.state == SessionState.SCAN_QR)
    assert session.state == SessionState.SCAN_QR
    assert session.qr_code.startswith("https://wa.me/settings/linked_devices#2@")
    return session


def test_a_pairing_code_comes_from_the_worker_and_is_recorded(
    workspace: Workspace, client: APIClient, served: ServedWorker
) -> None:
    session = scanning_session(workspace, served)

    response = client.post(url(session, "pairing-code"), {"phone": "+49 151 12345678"}, format="json")

    assert response.status_code == 200, response.content
    code = response.json()["code"]
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert response.json()["phone"] == "4915112345678"
    session.refresh_from_db()
    assert (session.state, session.pairing_code, session.pairing_phone) == (
        SessionState.PAIRING_CODE,
        code,
        "4915112345678",
    )


def test_a_sandbox_scan_links_the_session_to_the_scanning_phone(
    workspace: Workspace, client: APIClient, served: ServedWorker
) -> None:
    session = scanning_session(workspace, served)

    response = client.post(url(session, "sandbox/scan"), {"phone": "+15550100777", "push_name": "Ann"}, format="json")
    served.relay_until(session, lambda s: s.has_snapshot)

    assert response.status_code == 202, response.content
    assert session.state == SessionState.CONNECTED
    assert (session.phone, session.push_name) == ("+15550100777", "Ann")
    assert session.jid.startswith("15550100777:")
    assert session.has_snapshot is True


def test_typing_the_pairing_code_links_the_phone_that_asked_for_it(
    workspace: Workspace, client: APIClient, served: ServedWorker
) -> None:
    session = scanning_session(workspace, served)
    assert client.post(url(session, "pairing-code"), {"phone": PHONE}, format="json").status_code == 200
    served.relay_events()

    response = client.post(url(session, "sandbox/scan"), {}, format="json")
    served.relay_until(session, lambda s: s.state == SessionState.CONNECTED)

    assert response.status_code == 202, response.content
    assert (session.state, session.phone) == (SessionState.CONNECTED, PHONE)


def test_a_worker_that_cannot_verify_the_gateways_signature_refuses_the_command(
    workspace: Workspace, client: APIClient, served: ServedWorker
) -> None:
    session = scanning_session(workspace, served)
    Worker.objects.filter(pk=served.worker.pk).update(token_hash="ab" * 32)  # the gateway's record no longer matches

    response = client.post(url(session, "pairing-code"), {"phone": PHONE}, format="json")

    assert_api_error(response, 409, "bad_signature")
    session.refresh_from_db()
    assert session.state == SessionState.SCAN_QR
