"""The neonize session's life, driven through an injected fake client: QR watchdog, pairing, retries, stops.

The fake behaves like neonize's sync client where it matters: ``connect()`` blocks its thread until ``stop()``
(or raises at once, like a dial without a network), and handlers are called from a thread that is not the loop's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from worker_node.engines.base import (
    Account,
    EngineError,
    EngineEvent,
    PairingCode,
    QRCode,
    SessionSpec,
    StateChanged,
    StoreChanged,
)
from worker_node.engines.neonize.runtime import NeonizeConfig
from worker_node.engines.neonize_engine import NeonizeEngine


class FakeEvents:
    def __init__(self) -> None:
        self.handlers: dict[type, Callable[[Any, Any], None]] = {}
        self.qr_handler: Callable[[Any, bytes], None] | None = None

    def __call__(self, event_class: type) -> Callable[[Callable[[Any, Any], None]], None]:
        def register(handler: Callable[[Any, Any], None]) -> None:
            self.handlers[event_class] = handler

        return register

    def qr(self, handler: Callable[[Any, bytes], None]) -> None:
        self.qr_handler = handler


class FakeClient:
    def __init__(self, store_path: str, uuid: str, connect_error: str | None = None) -> None:
        self.store_path = store_path
        self.uuid = uuid
        self.connect_error = connect_error
        self.event = FakeEvents()
        self.me: Any = None
        self.connecting = threading.Event()
        self.stopped = threading.Event()
        self.returned = threading.Event()
        self.pair_calls: list[tuple[str, bool, Any]] = []
        self.logged_out = False

    def connect(self) -> None:
        self.connecting.set()
        try:
            if self.connect_error is not None:
                raise RuntimeError(self.connect_error)
            self.stopped.wait(30)
        finally:
            self.returned.set()

    def stop(self) -> None:
        self.stopped.set()

    def logout(self) -> None:
        self.logged_out = True

    def get_me(self) -> Any:
        return self.me

    def PairPhone(self, phone: str, show_push_notification: bool, client_name: Any = None) -> str:
        self.pair_calls.append((phone, show_push_notification, client_name))
        return "ABCD1234"

    # --- messaging: test_neonize_messaging's client does these; nothing here gets that far ------------------------

    def send_message(self, to: Any, message: Any) -> Any:
        raise AssertionError("no messaging in these tests")

    def upload(self, binary: bytes, media_type: Any = None) -> Any:
        raise AssertionError("no messaging in these tests")

    def build_document_message(self, file: bytes, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no messaging in these tests")

    def build_sticker_message(self, file: bytes, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no messaging in these tests")

    def download_any(self, message: Any) -> Any:
        raise AssertionError("no messaging in these tests")

    def mark_read(self, *message_ids: str, chat: Any, sender: Any, receipt: Any) -> None:
        raise AssertionError("no messaging in these tests")

    def is_on_whatsapp(self, *numbers: str) -> Any:
        raise AssertionError("no messaging in these tests")

    def send_chat_presence(self, jid: Any, state: Any, media: Any) -> None:
        raise AssertionError("no messaging in these tests")

    # --- driving it, from another thread as Go would --------------------------------------------------------------

    def qr(self, code: str) -> None:
        assert self.event.qr_handler is not None
        self.event.qr_handler(self, code.encode())

    def fire(self, event: Any) -> None:
        self.event.handlers[type(event)](self, event)


class Harness:
    def __init__(
        self, tmp_path: Path, config: NeonizeConfig, connect_error: str | None = None,
        client_class: type[FakeClient] = FakeClient, **spec: Any,
    ) -> None:  # fmt: skip
        self.clients: list[FakeClient] = []
        self.events: list[EngineEvent] = []

        def factory(store_path: str, uuid: str) -> FakeClient:
            client = client_class(store_path, uuid, connect_error)
            self.clients.append(client)
            return client

        self.engine = NeonizeEngine(config, client_factory=factory)
        self.session = self.engine.open_session(
            SessionSpec(id="s-fake", epoch=1, engine="neonize", **spec), tmp_path / "s-fake", self.events.append
        )

    @property
    def client(self) -> FakeClient:
        return self.clients[-1]

    def states(self) -> list[tuple[str, str]]:
        return [(e.state, e.reason) for e in self.events if isinstance(e, StateChanged)]

    async def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; events so far: {self.events}")
            await asyncio.sleep(0.01)

    async def start_and_connect(self) -> FakeClient:
        await self.session.start()
        await self.until(lambda: bool(self.clients) and self.client.connecting.is_set())
        return self.client

    async def from_go(self, fn: Callable[..., None], *args: Any) -> None:
        await asyncio.to_thread(fn, *args)


def config(**overrides: Any) -> NeonizeConfig:
    values: dict[str, Any] = {
        "log_level": logging.WARNING,
        "qr_schedule": (0.3, 0.1, 0.1),
        "qr_grace": 0.05,
        "start_grace": 0.05,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "stop_timeout": 2.0,
        "join_timeout": 1.0,
        "dial_timeout": 5.0,
    }
    values.update(overrides)
    return NeonizeConfig(**values)


@pytest.fixture(scope="module")
def nz_events() -> Any:
    NeonizeEngine(config())  # imports neonize the engine's way
    import neonize.events

    return neonize.events


def test_when_the_qr_codes_run_out_the_watchdog_fails_the_session_and_stops_the_client(tmp_path):
    sent_at: list[datetime] = []

    async def scenario() -> tuple[Harness, float]:
        harness = Harness(tmp_path, config())
        client = await harness.start_and_connect()
        for code in ("2@one", "2@two", "2@three"):
            sent_at.append(datetime.now(UTC))
            await harness.from_go(client.qr, code)
            await asyncio.sleep(0.05)
        last_code_at = time.monotonic()
        await harness.until(lambda: ("failed", "qr_timeout") in harness.states())
        waited = time.monotonic() - last_code_at
        await harness.until(client.returned.is_set)
        started = time.monotonic()
        await harness.session.stop()
        assert time.monotonic() - started < 0.5
        return harness, waited

    harness, waited = asyncio.run(scenario())

    assert harness.client.stopped.is_set()
    assert 0.05 <= waited < 1.0  # the last code's 0.1 s + 0.05 s grace, not the first code's 0.3 s
    assert harness.states() == [("scan_qr", ""), ("failed", "qr_timeout")]
    codes = [e for e in harness.events if isinstance(e, QRCode)]
    assert [c.code for c in codes] == ["2@one", "2@two", "2@three"]
    for qr, sent, ttl in zip(codes, sent_at, (0.3, 0.1, 0.1), strict=True):  # the schedule: first long, then short
        assert sent + timedelta(seconds=ttl) <= qr.expires_at < sent + timedelta(seconds=ttl + 0.5)
    assert len(harness.clients) == 1  # a QR timeout is final: no retry


def test_codes_keep_the_watchdog_quiet_and_pairing_connects(tmp_path, nz_events):
    async def scenario() -> Harness:
        harness = Harness(tmp_path, config())
        client = await harness.start_and_connect()
        await harness.from_go(client.qr, "2@one")
        from neonize.proto.Neonize_pb2 import JID

        paired = nz_events.PairStatusEv(
            ID=JID(User="15550001111", Server="s.whatsapp.net", Device=12), Status=nz_events.PairStatusEv.SUCCESS
        )
        await harness.from_go(client.fire, paired)
        await asyncio.sleep(0.6)  # well past the QR code's 0.3 s + grace
        await harness.session.stop()
        return harness

    harness = asyncio.run(scenario())

    account = Account(phone="+15550001111", jid="15550001111@s.whatsapp.net")
    assert harness.events[2:] == [StateChanged("connected", account=account), StoreChanged()]
    assert harness.states() == [("scan_qr", ""), ("connected", "")]
    assert harness.client.stopped.is_set()


def test_logged_out_is_final_and_stops_the_client(tmp_path, nz_events):
    async def scenario() -> Harness:
        harness = Harness(tmp_path, config())
        client = await harness.start_and_connect()
        await harness.from_go(client.fire, nz_events.ConnectedEv(status=True))
        await harness.from_go(client.fire, nz_events.LoggedOutEv(Reason=2))
        await harness.until(client.returned.is_set)
        await harness.session.stop()
        return harness

    harness = asyncio.run(scenario())

    assert harness.states() == [("connected", ""), ("logged_out", "logged_out")]
    assert len(harness.clients) == 1


def test_pairing_by_phone_code_needs_the_first_qr_then_emits_the_code(tmp_path):
    async def scenario() -> tuple[Harness, str]:
        harness = Harness(tmp_path, config(qr_schedule=(5.0,)))
        client = await harness.start_and_connect()
        with pytest.raises(EngineError) as caught:
            await harness.session.pair_phone("+1 555 000 1111")
        assert caught.value.code == "not_ready"
        await harness.from_go(client.qr, "2@one")
        await harness.until(lambda: any(isinstance(e, QRCode) for e in harness.events))
        code = await harness.session.pair_phone("+1 555 000 1111")
        await harness.from_go(client.qr, "2@two")  # codes keep rotating underneath; no longer shown
        await asyncio.sleep(0.05)
        await harness.session.stop()
        return harness, code

    harness, code = asyncio.run(scenario())

    from neonize.utils.enum import ClientName

    assert code == "ABCD1234"
    assert harness.client.pair_calls == [("15550001111", True, ClientName.LINUX)]
    assert [e for e in harness.events if not isinstance(e, QRCode)] == [
        StateChanged("scan_qr"),
        StateChanged("pairing_code"),
        PairingCode(code="ABCD1234", phone="+15550001111"),
    ]
    assert len([e for e in harness.events if isinstance(e, QRCode)]) == 1


def test_a_session_set_up_for_code_pairing_asks_for_the_code_itself(tmp_path):
    async def scenario() -> Harness:
        harness = Harness(tmp_path, config(qr_schedule=(5.0,)), pairing_method="code", pairing_phone="15550001111")
        client = await harness.start_and_connect()
        await harness.from_go(client.qr, "2@one")
        await harness.until(lambda: any(isinstance(e, PairingCode) for e in harness.events))
        await harness.session.stop()
        return harness

    harness = asyncio.run(scenario())

    assert harness.events == [StateChanged("pairing_code"), PairingCode(code="ABCD1234", phone="+15550001111")]


def test_failed_connects_recreate_the_client_with_backoff_then_park_as_failed(tmp_path):
    async def scenario() -> Harness:
        harness = Harness(tmp_path, config(max_attempts=4), connect_error="dial tcp: i/o timeout")
        await harness.session.start()
        await harness.until(lambda: any(state == "failed" for state, _ in harness.states()))
        await harness.session.stop()
        return harness

    harness = asyncio.run(scenario())

    assert harness.states() == [("reconnecting", "connect_failed: i/o timeout")] * 3 + [
        ("failed", "connect_failed: i/o timeout")
    ]
    assert len(harness.clients) == 4
    assert all(client.stopped.is_set() for client in harness.clients)  # Go's tables are cleaned after each
    assert {client.uuid for client in harness.clients} == {"s-fake"}


def test_stop_during_a_dial_returns_in_bounded_time_and_stops_the_client_later(tmp_path):
    async def scenario() -> tuple[Harness, float]:
        harness = Harness(tmp_path, config(stop_timeout=0.2, dial_timeout=0.5, start_grace=0.01))
        client = await harness.start_and_connect()  # dialing: no callback yet
        started = time.monotonic()
        await harness.session.stop()
        took = time.monotonic() - started
        assert not client.stopped.is_set()  # Stop would block on the dial while holding the Go lock
        await harness.until(client.stopped.is_set, timeout=3)
        return harness, took

    harness, took = asyncio.run(scenario())

    assert took < 1.0  # stop_timeout is 0.2 s; the dial would have kept it for 0.5 s
    assert harness.events == []


def test_stop_before_start_and_twice_is_harmless(tmp_path):
    async def scenario() -> Harness:
        harness = Harness(tmp_path, config())
        await harness.session.stop()
        await harness.session.start()
        await harness.session.stop()
        return harness

    harness = asyncio.run(scenario())

    assert harness.clients == []
    assert harness.events == []


def test_logout_needs_a_connection_then_logs_out_and_stops(tmp_path, nz_events):
    async def scenario() -> Harness:
        harness = Harness(tmp_path, config())
        client = await harness.start_and_connect()
        with pytest.raises(EngineError) as caught:
            await harness.session.logout()
        assert caught.value.code == "not_connected"
        await harness.from_go(client.fire, nz_events.ConnectedEv(status=True))
        await harness.until(lambda: ("connected", "") in harness.states())
        await harness.session.logout()
        await harness.until(client.stopped.is_set)
        await harness.session.stop()
        return harness

    harness = asyncio.run(scenario())

    assert harness.client.logged_out
    assert harness.states() == [("connected", ""), ("logged_out", "logout")]


def test_a_store_change_while_connected_is_reported(tmp_path, nz_events):
    async def scenario() -> Harness:
        harness = Harness(tmp_path, config(store_check_interval=0.05))
        client = await harness.start_and_connect()
        store_file = Path(client.store_path)
        store_file.write_bytes(b"v1")
        await harness.from_go(client.fire, nz_events.ConnectedEv(status=True))
        await asyncio.sleep(0.15)
        store_file.write_bytes(b"version 2")
        await harness.until(lambda: StoreChanged() in harness.events)
        await harness.session.stop()
        return harness

    harness = asyncio.run(scenario())

    assert harness.events == [StateChanged("connected"), StoreChanged()]


def test_a_session_set_up_for_code_pairing_without_a_number_shows_qr_codes_until_a_code_is_asked_for(tmp_path):
    async def scenario() -> Harness:
        harness = Harness(tmp_path, config(qr_schedule=(5.0,)), pairing_method="code")
        client = await harness.start_and_connect()
        await harness.from_go(client.qr, "2@one")
        await harness.until(lambda: any(isinstance(e, QRCode) for e in harness.events))
        await harness.session.pair_phone("+1 555 000 1111")
        await harness.session.stop()
        return harness

    harness = asyncio.run(scenario())

    assert [e for e in harness.events if not isinstance(e, QRCode)] == [
        StateChanged("scan_qr"),
        StateChanged("pairing_code"),
        PairingCode(code="ABCD1234", phone="+15550001111"),
    ]
    assert len([e for e in harness.events if isinstance(e, QRCode)]) == 1
