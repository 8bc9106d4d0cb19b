"""Real neonize clients with no way to reach WhatsApp: dials fail at once, and nothing may hang.

DNS here occasionally drops a query and Go waits 5 s for it, so time limits leave room for a slow dial or two.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest

from worker_node.engines.base import EngineEvent, SessionSpec, StateChanged
from worker_node.engines.neonize.runtime import NeonizeConfig
from worker_node.engines.neonize_engine import NeonizeEngine, NeonizeSession


@pytest.fixture(scope="module")
def engine() -> NeonizeEngine:
    return NeonizeEngine(
        NeonizeConfig(log_level=logging.ERROR, max_attempts=3, backoff_base=0.05, backoff_max=0.1, stop_timeout=15)
    )


def open_session(engine: NeonizeEngine, store_dir: Path, events: list[EngineEvent], name: str) -> NeonizeSession:
    return engine.open_session(SessionSpec(id=name, epoch=1, engine="neonize"), store_dir, events.append)


def states(events: list[EngineEvent]) -> list[StateChanged]:
    return [event for event in events if isinstance(event, StateChanged)]


async def wait_for_state(events: list[EngineEvent], state: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(event.state == state for event in states(events)):
        assert time.monotonic() < deadline, f"no {state!r} within {timeout} s: {events}"
        await asyncio.sleep(0.01)


def test_without_a_network_the_session_retries_then_fails_and_stops_promptly(engine, tmp_path):
    events: list[EngineEvent] = []
    session = open_session(engine, tmp_path / "s", events, "offline-1")

    async def scenario() -> tuple[float, float]:
        started = time.monotonic()
        await session.start()
        await wait_for_state(events, "failed", timeout=30)
        failed_after = time.monotonic() - started
        stopping = time.monotonic()
        await session.stop()
        return failed_after, time.monotonic() - stopping

    failed_after, stop_took = asyncio.run(scenario())

    assert failed_after < 20  # three dials of ~0.01 s (or 5 s on a lost DNS query) and two short backoffs
    assert stop_took < 1
    assert [event.state for event in states(events)] == ["reconnecting", "reconnecting", "failed"]
    assert states(events)[-1].reason.startswith("connect_failed: ")
    # Go created the store on the first dial, but nothing is paired in it: nothing to snapshot.
    assert (tmp_path / "s" / "whatsmeow.sqlite3").exists()
    assert session.store_files() == []
    assert session.snapshot() is None


def test_stop_in_the_middle_of_retrying_returns_promptly_and_ends_the_events(engine, tmp_path):
    events: list[EngineEvent] = []
    session = open_session(engine, tmp_path / "s", events, "offline-2")

    async def scenario() -> tuple[float, int]:
        await session.start()
        await wait_for_state(events, "reconnecting", timeout=15)
        stopping = time.monotonic()
        await session.stop()
        took = time.monotonic() - stopping
        seen = len(events)
        await asyncio.sleep(0.5)
        assert len(events) == seen  # nothing after stop
        return took, seen

    took, _ = asyncio.run(scenario())

    assert took < 6  # at worst one more dial stuck on a lost DNS query
    assert "failed" not in [event.state for event in states(events)]


def test_a_store_made_by_whatsmeow_snapshots_and_restores_once_a_device_is_in_it(engine, tmp_path):
    events: list[EngineEvent] = []
    session = open_session(engine, tmp_path / "s", events, "offline-3")

    async def scenario() -> None:
        await session.start()
        await wait_for_state(events, "failed", timeout=30)
        await session.stop()

    asyncio.run(scenario())
    path = tmp_path / "s" / "whatsmeow.sqlite3"
    with sqlite3.connect(path) as connection:  # whatsmeow's real schema, a device as pairing would store it
        connection.execute(
            "INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key, signed_pre_key, "
            "signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details, adv_account_sig, adv_account_sig_key, "
            "adv_device_sig, push_name) VALUES (?, 1, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, 'Ann')",
            ("15550001111:12@s.whatsapp.net", *(bytes(n) for n in (32, 32, 32, 64, 32, 16, 64, 32, 64))),
        )
    connection.close()

    data = session.snapshot()
    assert data is not None
    NeonizeEngine.restore(tmp_path / "restored", data)

    restored = sqlite3.connect(tmp_path / "restored" / "whatsmeow.sqlite3")
    assert restored.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert restored.execute("SELECT jid, push_name FROM whatsmeow_device").fetchall() == [
        ("15550001111:12@s.whatsapp.net", "Ann")
    ]
    restored.close()
    assert session.store_files() == [path]


def test_neonizes_connect_threads_cannot_hold_the_process_open(engine):
    import neonize.client

    thread = neonize.client.Thread(target=lambda: None, name="probe", daemon=False)

    assert thread.daemon
