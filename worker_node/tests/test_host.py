"""The session host: restores from snapshots, snapshots fresh pairings at once, fences off older epochs, and
reconciles against the gateway's answer (start what is missing, let go of the rest, wipe what must be forgotten)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worker_node.engines.base import Account, QRCode, SessionSpec, StateChanged, StoreChanged
from worker_node.engines.sandbox import AUTH_FILE, SandboxEngine
from worker_node.host import SessionHost
from worker_node.spool import Spool
from worker_node.tests.memory_snapshots import MemorySnapshots


def auth_file(phone: str, push_name: str = "Ann") -> bytes:
    digits = phone.lstrip("+")
    return json.dumps(
        {"version": 1, "device": {"phone": phone, "jid": f"{digits}:12@s.whatsapp.net", "push_name": push_name}}
    ).encode()


class World:
    def __init__(
        self, tmp_path: Path, snapshots: MemorySnapshots, debounce: float, schedule: tuple[float, ...]
    ) -> None:
        self.tmp_path = tmp_path
        self.snapshots = snapshots
        self.spool = Spool(tmp_path / "spool.sqlite3")
        self.host = SessionHost(
            engine=SandboxEngine(qr_schedule=schedule),
            data_dir=tmp_path / "data",
            spool=self.spool,
            snapshots=snapshots.as_store(),
            snapshot_debounce=debounce,
        )

    def events(self, session_id: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.spool.batch(10_000) if session_id is None or e["session_id"] == session_id]

    def kinds(self, session_id: str) -> list[tuple[str, str | None]]:
        return [(e["type"], e["data"].get("state")) for e in self.events(session_id)]

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out; spooled: {self.kinds_all()}"
            await asyncio.sleep(0.01)

    def kinds_all(self) -> list[tuple[str, Any]]:
        return [(e["type"], e["data"].get("state")) for e in self.events()]


def run(
    tmp_path: Path,
    scenario: Callable[[World], Awaitable[None]],
    *,
    snapshots: MemorySnapshots | None = None,
    debounce: float = 60,
    schedule: tuple[float, ...] = (30,),
) -> World:
    world = World(tmp_path, snapshots or MemorySnapshots(), debounce, schedule)

    async def main() -> None:
        try:
            await scenario(world)
        finally:
            await world.host.shutdown()

    asyncio.run(main())
    return world


def spec(session_id: str, epoch: int = 1) -> SessionSpec:
    return SessionSpec(id=session_id, epoch=epoch, engine="sandbox")


def new_id() -> str:
    return str(uuid.uuid4())


def test_a_session_is_restored_from_its_snapshot_when_the_local_store_is_empty(tmp_path: Path) -> None:
    sid = new_id()
    snapshots = MemorySnapshots({sid: auth_file("+15550100777")})

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid))
        await w.until(lambda: ("session.state", "connected") in w.kinds(sid))

    w = run(tmp_path, scenario, snapshots=snapshots)

    assert snapshots.loads == [sid]
    assert w.kinds(sid)[:2] == [("session.state", "starting"), ("session.state", "connected")]
    assert not [kind for kind, _ in w.kinds(sid) if kind == "session.qr"]
    connected = w.events(sid)[1]
    assert connected["data"]["account"]["phone"] == "+15550100777"
    assert (w.host.store_dir(sid) / AUTH_FILE).read_bytes() == auth_file("+15550100777")


def test_a_local_store_wins_over_the_snapshot(tmp_path: Path) -> None:
    sid = new_id()
    snapshots = MemorySnapshots({sid: auth_file("+15550100999")})

    async def scenario(w: World) -> None:
        w.host.store_dir(sid).mkdir(parents=True)
        (w.host.store_dir(sid) / AUTH_FILE).write_bytes(auth_file("+15550100777"))
        await w.host.ensure(spec(sid))
        await w.until(lambda: ("session.state", "connected") in w.kinds(sid))

    w = run(tmp_path, scenario, snapshots=snapshots)

    assert snapshots.loads == []
    assert w.events(sid)[1]["data"]["account"]["phone"] == "+15550100777"


def test_without_a_snapshot_the_session_begins_pairing(tmp_path: Path) -> None:
    sid = new_id()

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid))
        await w.until(lambda: ("session.qr", None) in w.kinds(sid))
        hosted = w.host.get(sid)
        assert hosted is not None
        assert hosted.state == "scan_qr"

    w = run(tmp_path, scenario)

    assert w.snapshots.loads == [sid]


def test_a_snapshot_that_will_not_open_fails_the_session_and_is_kept(tmp_path: Path) -> None:
    sid = new_id()
    snapshots = MemorySnapshots({sid: b"sealed with a key we lack"})
    snapshots.unreadable.add(sid)

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid))

    w = run(tmp_path, scenario, snapshots=snapshots)

    failed = w.events(sid)[-1]
    assert (failed["type"], failed["data"]["state"]) == ("session.state", "failed")
    assert failed["data"]["reason"].startswith("snapshot_unreadable")
    assert w.host.get(sid) is None
    assert snapshots.blobs[sid] == b"sealed with a key we lack"
    assert snapshots.saves == []


def test_a_fresh_pairing_is_snapshotted_right_after_connecting(tmp_path: Path) -> None:
    sid = new_id()

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid))
        await w.until(lambda: ("session.qr", None) in w.kinds(sid))
        hosted = w.host.get(sid)
        assert hosted is not None
        await hosted.session.command("scan", {"phone": "+15550100777"})
        await w.until(lambda: bool(w.snapshots.saves), timeout=5)  # far sooner than the 60 s debounce
        await w.until(lambda: any(e["type"] == "session.snapshot" for e in w.events(sid)))

        assert w.snapshots.saves == [sid]
        assert w.snapshots.blobs[sid] == (w.host.store_dir(sid) / AUTH_FILE).read_bytes()
        snapshot_events = [e for e in w.events(sid) if e["type"] == "session.snapshot"]
        assert [e["data"] for e in snapshot_events] == [{"bytes": len(w.snapshots.blobs[sid])}]

    run(tmp_path, scenario, debounce=60)


def test_store_changes_are_snapshotted_once_after_the_debounce(tmp_path: Path) -> None:
    sid = new_id()
    snapshots = MemorySnapshots({sid: auth_file("+15550100777")})

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid))
        await w.until(lambda: len(w.snapshots.saves) == 1)  # the one after connecting
        hosted = w.host.get(sid)
        assert hosted is not None
        for _ in range(3):
            hosted.session.emit(StoreChanged())
        await asyncio.sleep(0.05)
        assert len(w.snapshots.saves) == 1
        await w.until(lambda: len(w.snapshots.saves) == 2)
        await asyncio.sleep(0.6)
        assert len(w.snapshots.saves) == 2  # three changes, one snapshot

    run(tmp_path, scenario, snapshots=snapshots, debounce=0.5)


def test_late_events_of_an_older_epoch_are_ignored(tmp_path: Path) -> None:
    sid = new_id()

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid, epoch=1))
        await w.until(lambda: ("session.qr", None) in w.kinds(sid))
        old = w.host.get(sid)
        assert old is not None
        await w.host.ensure(spec(sid, epoch=2))
        await w.until(lambda: any(e["epoch"] == 2 and e["type"] == "session.qr" for e in w.events(sid)))
        epoch_one_before = [e for e in w.events(sid) if e["epoch"] == 1]

        old.session.emit(StateChanged("connected", account=Account(phone="+15550100777", jid="x@s.whatsapp.net")))
        old.session.emit(QRCode(code="2@late", expires_at=datetime.now(UTC)))
        await asyncio.sleep(0.1)

        assert [e for e in w.events(sid) if e["epoch"] == 1] == epoch_one_before
        current = w.host.get(sid)
        assert current is not None
        assert (current.spec.epoch, current.state) == (2, "scan_qr")
        assert w.snapshots.saves == []

    run(tmp_path, scenario)


def test_an_assignment_of_the_same_or_an_older_epoch_changes_nothing(tmp_path: Path) -> None:
    sid = new_id()

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid, epoch=3))
        first = w.host.get(sid)
        await w.host.ensure(spec(sid, epoch=3))
        await w.host.ensure(spec(sid, epoch=2))
        assert w.host.get(sid) is first

    w = run(tmp_path, scenario)

    assert [e["data"]["state"] for e in w.events(sid) if e["type"] == "session.state"] == ["starting"]


def test_forget_wipes_the_local_store_without_a_snapshot(tmp_path: Path) -> None:
    sid = new_id()
    snapshots = MemorySnapshots({sid: auth_file("+15550100777")})

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid))
        await w.until(lambda: len(w.snapshots.saves) == 1)
        assert w.host.stored() == [sid]
        await w.host.forget(sid)

    w = run(tmp_path, scenario, snapshots=snapshots)

    assert not w.host.store_dir(sid).exists()
    assert w.host.get(sid) is None
    assert w.host.stored() == []
    assert snapshots.saves == [sid]  # only the one after connecting


def test_stop_keeps_the_local_store_writes_a_final_snapshot_and_says_stopped(tmp_path: Path) -> None:
    sid = new_id()
    snapshots = MemorySnapshots({sid: auth_file("+15550100777")})

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid))
        await w.until(lambda: len(w.snapshots.saves) == 1)
        await w.host.stop(sid)

    w = run(tmp_path, scenario, snapshots=snapshots)

    assert snapshots.saves == [sid, sid]
    assert (w.host.store_dir(sid) / AUTH_FILE).exists()
    assert w.host.stored() == [sid]
    assert w.host.get(sid) is None
    assert w.kinds(sid)[-1] == ("session.state", "stopped")


def test_reconcile_starts_what_is_missing_and_lets_go_of_the_rest(tmp_path: Path) -> None:
    kept, unwanted, forgotten, wanted = new_id(), new_id(), new_id(), new_id()
    snapshots = MemorySnapshots({sid: auth_file("+15550100777") for sid in (kept, unwanted, forgotten)})

    async def scenario(w: World) -> None:
        for sid in (kept, unwanted, forgotten):
            await w.host.ensure(spec(sid))
        await w.until(lambda: len(w.snapshots.saves) == 3)

        await w.host.reconcile([spec(kept), spec(wanted)], forget=[forgotten])

        assert sorted(w.host.hosted) == sorted([kept, wanted])

    w = run(tmp_path, scenario, snapshots=snapshots)

    assert not w.host.store_dir(forgotten).exists()
    assert (w.host.store_dir(unwanted) / AUTH_FILE).exists()  # kept on disk: it may come back here
    assert ("session.state", "stopped") not in w.kinds(unwanted)  # let go quietly, not a customer stop


def test_a_remote_logout_wipes_the_local_store(tmp_path: Path) -> None:
    sid = new_id()
    snapshots = MemorySnapshots({sid: auth_file("+15550100777")})

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid))
        await w.until(lambda: len(w.snapshots.saves) == 1)
        hosted = w.host.get(sid)
        assert hosted is not None
        await hosted.session.command("fault", {"kind": "logout"})
        await w.until(lambda: w.host.get(sid) is None and not w.host.store_dir(sid).exists())

    w = run(tmp_path, scenario, snapshots=snapshots)

    assert w.kinds(sid)[-1] == ("session.state", "logged_out")
    assert snapshots.saves == [sid]


def test_every_envelope_names_its_session_and_epoch_and_has_its_own_id(tmp_path: Path) -> None:
    sid = new_id()

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid, epoch=7))
        await w.until(lambda: ("session.qr", None) in w.kinds(sid))

    w = run(tmp_path, scenario)

    events = w.events()
    assert len(events) >= 2
    assert {(e["session_id"], e["epoch"]) for e in events} == {(sid, 7)}
    assert len({e["id"] for e in events}) == len(events)
    assert all(uuid.UUID(e["id"]) and datetime.fromisoformat(e["occurred_at"]).tzinfo for e in events)


def test_a_session_whose_start_raises_is_reported_failed_and_not_left_starting(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from worker_node.engines.sandbox import SandboxSession

    async def broken_start(self: SandboxSession) -> None:
        raise RuntimeError("the engine refused")

    monkeypatch.setattr(SandboxSession, "start", broken_start)
    session_id = str(uuid.uuid4())

    async def scenario(world: World) -> None:
        await world.host.ensure(spec(session_id))
        assert world.host.get(session_id) is None
        assert world.kinds(session_id)[-1] == ("session.state", "failed")
        assert "start_failed: the engine refused" in world.events(session_id)[-1]["data"]["reason"]
        # a later assignment can start it again
        monkeypatch.undo()
        await world.host.ensure(spec(session_id, epoch=2))
        assert world.host.get(session_id) is not None

    run(tmp_path, scenario)


def test_a_stale_epoch_stops_the_session_at_once_without_a_snapshot_and_keeps_its_store(tmp_path: Path) -> None:
    sid = new_id()
    snapshots = MemorySnapshots({sid: auth_file("+15550100777")})
    outcome: list[bool] = []

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid, epoch=2))
        await w.until(lambda: len(w.snapshots.saves) == 1)
        spooled = len(w.events(sid))
        outcome.append(await w.host.fence(sid, 2))
        assert len(w.events(sid)) == spooled  # nothing said: its events would be refused too

    w = run(tmp_path, scenario, snapshots=snapshots)

    assert outcome == [True]
    assert w.host.get(sid) is None
    assert snapshots.saves == [sid]  # only the one after connecting: the other copy's snapshot is the newer
    assert w.host.stored() == [sid]  # the heartbeat decides whether to forget it


def test_a_stale_older_epoch_leaves_the_session_running_under_a_newer_one(tmp_path: Path) -> None:
    sid = new_id()
    snapshots = MemorySnapshots({sid: auth_file("+15550100777")})
    outcome: list[bool] = []

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid, epoch=3))
        outcome.append(await w.host.fence(sid, 2))  # a late refusal of an event from before its restart
        outcome.append(await w.host.fence(new_id(), 1))  # a session it does not run
        running = w.host.get(sid)
        assert running is not None
        assert running.spec.epoch == 3

    run(tmp_path, scenario, snapshots=snapshots)

    assert outcome == [False, False]
