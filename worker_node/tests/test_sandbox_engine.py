"""The sandbox engine: rotating QR codes, pairing by scan or pairing code, a real auth file, and fault hooks."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from worker_node.engines.base import (
    EngineError,
    EngineEvent,
    EngineSession,
    PairingCode,
    QRCode,
    SessionSpec,
    StateChanged,
    StoreChanged,
)
from worker_node.engines.sandbox import AUTH_FILE, SandboxEngine

QR_PREFIX = "https://wa.me/settings/linked_devices#2@"


class Recorder:
    """Opens sandbox sessions and records what they emit."""

    def __init__(self, tmp_path: Path, schedule: tuple[float, ...] = (0.05, 0.05)) -> None:
        self.engine = SandboxEngine(qr_schedule=schedule)
        self.tmp_path = tmp_path
        self.events: list[EngineEvent] = []

    def open(self, store: str = "store") -> EngineSession:
        spec = SessionSpec(id="6f1c1b9e-3f43-4c36-9a39-2a4f7d3f0c11", epoch=1, engine="sandbox")
        return self.engine.open_session(spec, self.tmp_path / store, self.events.append)

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    def states(self) -> list[str]:
        return [event.state for event in self.of(StateChanged)]

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out; events so far: {self.events}"
            await asyncio.sleep(0.01)


def run(tmp_path: Path, scenario: Callable[[Recorder], Coroutine[Any, Any, None]], **options: Any) -> Recorder:
    recorder = Recorder(tmp_path, **options)
    asyncio.run(scenario(recorder))
    return recorder


def test_qr_codes_rotate_then_the_session_fails_with_qr_timeout(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        await r.open().start()
        await r.until(lambda: "failed" in r.states())

    r = run(tmp_path, scenario, schedule=(0.05, 0.05, 0.05))

    codes = [event.code for event in r.of(QRCode)]
    assert len(codes) == 3
    assert len(set(codes)) == 3
    assert all(code.startswith(QR_PREFIX) for code in codes)
    assert isinstance(r.events[-1], StateChanged)
    assert r.events[-1].reason.startswith("qr_timeout")


def test_the_next_qr_code_comes_when_the_previous_one_expires(tmp_path: Path) -> None:
    seen: list[datetime] = []

    async def scenario(r: Recorder) -> None:
        began = time.monotonic()
        await r.open().start()
        await r.until(lambda: len(r.of(QRCode)) == 1)
        seen.append(datetime.now(UTC))
        await asyncio.sleep(0.05)
        assert len(r.of(QRCode)) == 1  # the first one lives for 0.3 s
        await r.until(lambda: len(r.of(QRCode)) == 2)
        assert time.monotonic() - began >= 0.3

    r = run(tmp_path, scenario, schedule=(0.3, 30))

    first, second = r.of(QRCode)
    assert (first.expires_at - seen[0]).total_seconds() == pytest.approx(0.3, abs=0.1)
    assert (second.expires_at - first.expires_at).total_seconds() == pytest.approx(30, abs=1)
    assert "failed" not in r.states()


def test_a_scan_pairs_the_session_writes_the_auth_file_and_connects(tmp_path: Path) -> None:
    answers: list[dict[str, Any]] = []

    async def scenario(r: Recorder) -> None:
        session = r.open()
        await session.start()
        await r.until(lambda: len(r.of(QRCode)) == 1)
        answers.append(await session.command("scan", {"phone": "+15550100777", "push_name": "Ann"}))
        await asyncio.sleep(0.5)  # past the whole QR schedule: no more codes, no timeout

    r = run(tmp_path, scenario, schedule=(0.3, 0.05))

    device = json.loads((tmp_path / "store" / AUTH_FILE).read_text())["device"]
    assert (device["phone"], device["push_name"]) == ("+15550100777", "Ann")
    assert device["jid"].startswith("15550100777:")
    assert answers == [{"phone": "+15550100777", "jid": device["jid"]}]
    assert len(r.of(QRCode)) == 1
    assert r.of(StoreChanged)
    assert r.states() == ["connected"]
    account = r.of(StateChanged)[0].account
    assert (account.phone, account.jid, account.push_name) == ("+15550100777", device["jid"], "Ann")


def test_a_scan_without_a_phone_links_a_sandbox_number(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        session = r.open()
        await session.start()
        await r.until(lambda: bool(r.of(QRCode)))
        await session.command("scan", {})

    r = run(tmp_path, scenario, schedule=(5,))

    account = r.of(StateChanged)[0].account
    assert re.fullmatch(r"\+155501\d{5}", account.phone)
    assert account.push_name == "Sandbox User"


def test_a_pairing_code_has_the_form_xxxx_xxxx_and_typing_it_links_that_phone(tmp_path: Path) -> None:
    codes: list[str] = []

    async def scenario(r: Recorder) -> None:
        session = r.open()
        await session.start()
        await r.until(lambda: bool(r.of(QRCode)))
        codes.append(await session.pair_phone("4915112345678"))
        await session.command("scan", {})

    r = run(tmp_path, scenario, schedule=(5,))

    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", codes[0])
    assert [(event.code, event.phone) for event in r.of(PairingCode)] == [(codes[0], "+4915112345678")]
    assert r.of(StateChanged)[-1].account.phone == "+4915112345678"


def test_pairing_codes_are_not_repeated(tmp_path: Path) -> None:
    codes: list[str] = []

    async def scenario(r: Recorder) -> None:
        session = r.open()
        await session.start()
        for _ in range(5):
            codes.append(await session.pair_phone("4915112345678"))
        await session.stop()

    run(tmp_path, scenario, schedule=(5,))

    assert len(set(codes)) == 5


async def _not_started(r: Recorder) -> EngineSession:
    return r.open()


async def _connected(r: Recorder) -> EngineSession:
    session = r.open()
    await session.start()
    await r.until(lambda: bool(r.of(QRCode)))
    await session.command("scan", {"phone": "+15550100777"})
    return session


async def _timed_out(r: Recorder) -> EngineSession:
    session = r.open()
    await session.start()
    await r.until(lambda: "failed" in r.states())
    return session


async def _stopped(r: Recorder) -> EngineSession:
    session = r.open()
    await session.start()
    await session.stop()
    return session


NOT_PAIRING = [
    pytest.param(_not_started, id="not-started"),
    pytest.param(_connected, id="connected"),
    pytest.param(_timed_out, id="qr-timed-out"),
    pytest.param(_stopped, id="stopped"),
]


@pytest.mark.parametrize("prepare", NOT_PAIRING)
def test_a_pairing_code_is_refused_when_the_session_is_not_pairing(
    tmp_path: Path, prepare: Callable[[Recorder], Awaitable[EngineSession]]
) -> None:
    async def scenario(r: Recorder) -> None:
        session = await prepare(r)
        with pytest.raises(EngineError) as refused:
            await session.pair_phone("4915112345678")
        assert refused.value.code == "not_pairing"

    r = run(tmp_path, scenario)

    assert not r.of(PairingCode)


@pytest.mark.parametrize("prepare", NOT_PAIRING)
def test_a_scan_is_refused_when_the_session_is_not_pairing(
    tmp_path: Path, prepare: Callable[[Recorder], Awaitable[EngineSession]]
) -> None:
    async def scenario(r: Recorder) -> None:
        session = await prepare(r)
        before = list(r.events)
        with pytest.raises(EngineError) as refused:
            await session.command("scan", {"phone": "+15550100999"})
        assert refused.value.code == "not_pairing"
        assert r.events == before

    run(tmp_path, scenario)


def test_a_paired_session_resumes_connected_from_its_auth_file_without_a_qr_code(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        first = await _connected(r)
        await first.stop()
        r.events.clear()
        await r.open().start()
        await asyncio.sleep(0.15)

    r = run(tmp_path, scenario)

    assert not r.of(QRCode)
    assert r.states() == ["connected"]
    assert r.of(StateChanged)[0].account.phone == "+15550100777"


def test_a_snapshot_restored_into_an_empty_store_resumes_the_session(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        first = await _connected(r)
        snapshot = first.snapshot()
        assert snapshot is not None
        r.engine.restore(tmp_path / "elsewhere", snapshot)
        r.events.clear()
        await r.open("elsewhere").start()
        await asyncio.sleep(0.15)

    r = run(tmp_path, scenario)

    assert not r.of(QRCode)
    assert r.states() == ["connected"]
    assert (tmp_path / "elsewhere" / AUTH_FILE).read_bytes() == (tmp_path / "store" / AUTH_FILE).read_bytes()


def test_an_unpaired_session_has_nothing_to_snapshot(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        session = r.open()
        await session.start()
        assert session.snapshot() is None
        assert session.store_files() == []
        await session.stop()

    run(tmp_path, scenario)


def test_stop_ends_the_qr_rotation_without_a_timeout(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        session = r.open()
        await session.start()
        await r.until(lambda: bool(r.of(QRCode)))
        await session.stop()
        await asyncio.sleep(0.5)

    r = run(tmp_path, scenario, schedule=(0.3, 0.05))

    assert len(r.of(QRCode)) == 1
    assert "failed" not in r.states()


def test_logout_deletes_the_auth_file(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        session = await _connected(r)
        assert session.store_files() == [tmp_path / "store" / AUTH_FILE]
        await session.logout()
        assert session.store_files() == []

    run(tmp_path, scenario)

    assert not (tmp_path / "store" / AUTH_FILE).exists()


def test_the_disconnect_fault_reconnects_the_session(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        session = await _connected(r)
        assert await session.command("fault", {"kind": "disconnect"}) == {"fault": "disconnect"}
        assert r.states()[-1] == "reconnecting"
        await r.until(lambda: r.states()[-1] == "connected")

    r = run(tmp_path, scenario)

    assert r.states() == ["connected", "reconnecting", "connected"]
    assert r.of(StateChanged)[-1].account.phone == "+15550100777"


def test_the_logout_fault_unlinks_the_device(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        session = await _connected(r)
        await session.command("fault", {"kind": "logout"})

    r = run(tmp_path, scenario)

    assert r.states()[-1] == "logged_out"
    assert not (tmp_path / "store" / AUTH_FILE).exists()


def test_the_fail_fault_fails_the_session_and_ends_pairing(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        session = r.open()
        await session.start()
        await r.until(lambda: bool(r.of(QRCode)))
        await session.command("fault", {"kind": "fail"})
        await asyncio.sleep(0.5)

    r = run(tmp_path, scenario, schedule=(0.3, 0.05))

    assert r.states() == ["failed"]
    assert r.of(StateChanged)[0].reason == "sandbox: injected failure"
    assert len(r.of(QRCode)) == 1


@pytest.mark.parametrize(
    "kind", [pytest.param("explode", id="unknown"), pytest.param("disconnect", id="disconnect-unlinked")]
)
def test_an_unknown_or_impossible_fault_is_refused(tmp_path: Path, kind: str) -> None:
    async def scenario(r: Recorder) -> None:
        session = r.open()
        with pytest.raises(EngineError) as refused:
            await session.command("fault", {"kind": kind})
        assert refused.value.code == "unknown_fault"

    r = run(tmp_path, scenario)

    assert r.events == []


def test_an_unknown_command_is_refused(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        with pytest.raises(EngineError) as refused:
            await r.open().command("teleport", {})
        assert refused.value.code == "unsupported_command"

    run(tmp_path, scenario)


def test_a_session_created_for_code_pairing_with_its_number_asks_for_the_code_itself(tmp_path: Path) -> None:
    async def scenario(r: Recorder) -> None:
        spec = SessionSpec(id="6f1c1b9e-3f43-4c36-9a39-2a4f7d3f0c11", epoch=1, engine="sandbox",
                           pairing_method="code", pairing_phone="4915112345678")  # fmt: skip
        session = r.engine.open_session(spec, r.tmp_path / "store", r.events.append)
        await session.start()
        await r.until(lambda: bool(r.of(PairingCode)))
        await asyncio.sleep(0.1)  # a QR code's lifetime: none comes
        await session.command("scan", {})  # the code typed on the phone

    r = run(tmp_path, scenario, schedule=(0.05, 5))

    assert [event.phone for event in r.of(PairingCode)] == ["+4915112345678"]
    assert r.of(QRCode) == []
    assert r.of(StateChanged)[-1].account.phone == "+4915112345678"
