"""The session host: runs the sessions the gateway assigns, turns engine events into spooled envelopes, snapshots
auth stores, and reconciles against each heartbeat's answer."""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worker_node.contract.events import WorkerEvent
from worker_node.crypto import SnapshotKeyError
from worker_node.engines.base import (
    Engine,
    EngineError,
    EngineEvent,
    EngineSession,
    PairingCode,
    QRCode,
    SessionSpec,
    StateChanged,
    StoreChanged,
)
from worker_node.outbox import Outbox, TokenBucket
from worker_node.snapshots import SnapshotStore
from worker_node.spool import Spool

logger = logging.getLogger(__name__)


@dataclass
class Hosted:
    spec: SessionSpec
    session: EngineSession
    state: str = "starting"
    snapshot_task: asyncio.Task[None] | None = None
    sender: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(30))


def envelope(spec: SessionSpec, kind: str, data: dict[str, Any]) -> WorkerEvent:
    return {
        "id": str(uuid.uuid4()),
        "session_id": spec.id,
        "epoch": spec.epoch,
        "type": kind,
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": data,
    }


def event_data(event: EngineEvent) -> dict[str, Any]:
    if isinstance(event, StateChanged):
        data: dict[str, Any] = {"state": event.state, "reason": event.reason}
        if event.account is not None:
            data["account"] = event.account.__dict__
        return data
    if isinstance(event, QRCode):
        return {"code": event.code, "expires_at": event.expires_at.isoformat()}
    if isinstance(event, PairingCode):
        return {"code": event.code, "phone": event.phone}
    return dict(getattr(event, "data", {}))


class SessionHost:
    def __init__(
        self, *, engine: Engine, data_dir: Path, spool: Spool, snapshots: SnapshotStore, snapshot_debounce: float,
        on_event: Callable[[], None] = lambda: None, outbox: Outbox | None = None,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.sessions_dir = data_dir / "sessions"
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self.spool = spool
        self.snapshots = snapshots
        self.snapshot_debounce = snapshot_debounce
        self.on_event = on_event
        self.hosted: dict[str, Hosted] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.outbox = outbox or Outbox(data_dir / "outbox.sqlite3")
        # Messages a crash left half-sent are failed, not retried; reported when their session runs again (an
        # event needs the session's current epoch).
        self._pending_failures: dict[str, list[str]] = {}
        for session_id, message_id in self.outbox.interrupted():
            self.outbox.mark(message_id, "failed")
            self._pending_failures.setdefault(session_id, []).append(message_id)

    def store_dir(self, session_id: str) -> Path:
        return self.sessions_dir / session_id

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    # --- events -------------------------------------------------------------------------------------------------

    def _emitter(self, spec: SessionSpec) -> Callable[[EngineEvent], None]:
        loop = asyncio.get_running_loop()

        def emit(event: EngineEvent) -> None:
            # Engines may call from their own threads (neonize's Go callbacks): hop onto the loop.
            loop.call_soon_threadsafe(self._handle, spec, event)

        return emit

    def _handle(self, spec: SessionSpec, event: EngineEvent) -> None:
        hosted = self.hosted.get(spec.id)
        if hosted is None or hosted.spec.epoch != spec.epoch:
            return  # a late event of a run we already let go of
        if isinstance(event, StoreChanged):
            self._schedule_snapshot(hosted, delay=self.snapshot_debounce)
            return
        if isinstance(event, StateChanged):
            hosted.state = event.state
            if event.state == "connected":
                hosted.connected.set()
            else:
                hosted.connected.clear()
            if event.state == "connected":
                self._schedule_snapshot(hosted, delay=0)  # a fresh pairing must survive this worker at once
            if event.state == "logged_out":
                asyncio.get_running_loop().create_task(self._drop(spec.id, wipe=True, final_snapshot=False))
            if event.state == "failed":
                asyncio.get_running_loop().create_task(self._drop(spec.id, wipe=False, final_snapshot=True))
        elif isinstance(event, QRCode):
            hosted.state = "scan_qr"
        elif isinstance(event, PairingCode):
            hosted.state = "pairing_code"
        self.publish(spec, event.type, event_data(event))

    def publish(self, spec: SessionSpec, kind: str, data: dict[str, Any]) -> None:
        self.spool.append(envelope(spec, kind, data))
        self.on_event()

    # --- snapshots ----------------------------------------------------------------------------------------------

    def _schedule_snapshot(self, hosted: Hosted, *, delay: float) -> None:
        if hosted.snapshot_task is not None and not hosted.snapshot_task.done():
            if delay > 0:
                return  # one is already due; it will capture this change too
            hosted.snapshot_task.cancel()
        hosted.snapshot_task = asyncio.get_running_loop().create_task(self._snapshot_later(hosted, delay))

    async def _snapshot_later(self, hosted: Hosted, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.write_snapshot(hosted)

    async def write_snapshot(self, hosted: Hosted) -> bool:
        data = await asyncio.to_thread(hosted.session.snapshot)
        if data is None:
            return False
        try:
            await self.snapshots.save(hosted.spec.id, data)
        except Exception:
            logger.exception("snapshot of session %s failed; the next change or stop retries", hosted.spec.id)
            return False
        self.publish(hosted.spec, "session.snapshot", {"bytes": len(data)})
        return True

    # --- lifecycle ----------------------------------------------------------------------------------------------

    async def ensure(self, spec: SessionSpec) -> None:
        """Run ``spec``: start it, or restart it when the gateway assigned it again under a newer epoch."""
        async with self._lock(spec.id):
            current = self.hosted.get(spec.id)
            if current is not None and current.spec.epoch >= spec.epoch:
                return
            if current is not None:
                await self._stop(current, final_snapshot=True)
            await self._start(spec)

    async def _start(self, spec: SessionSpec) -> None:
        store_dir = self.store_dir(spec.id)
        session = self.engine.open_session(spec, store_dir, self._emitter(spec))
        hosted = Hosted(spec=spec, session=session)
        self.hosted[spec.id] = hosted
        self.publish(spec, "session.state", {"state": "starting", "reason": ""})
        if not session.store_files():
            try:
                snapshot = await self.snapshots.load(spec.id)
            except SnapshotKeyError as error:
                # Keep the snapshot: the right key may yet be configured. The session parks as failed.
                logger.error("session %s: %s", spec.id, error)
                self.hosted.pop(spec.id, None)
                self.publish(spec, "session.state", {"state": "failed", "reason": f"snapshot_unreadable: {error}"})
                return
            except Exception as error:
                logger.exception("session %s: snapshot could not be read", spec.id)
                self.hosted.pop(spec.id, None)
                self.publish(spec, "session.state", {"state": "failed", "reason": f"snapshot_unavailable: {error}"})
                return
            if snapshot is not None:
                await asyncio.to_thread(self.engine.restore, store_dir, snapshot)
                logger.info("session %s restored from its snapshot", spec.id)
        store_dir.mkdir(parents=True, exist_ok=True)
        for message_id in self._pending_failures.pop(spec.id, []):
            self.publish(spec, "message.failed", {"message_id": message_id, "reason": "send_interrupted"})
        hosted.sender = asyncio.get_running_loop().create_task(self._send_loop(hosted))
        try:
            await session.start()
        except Exception as error:
            # Never leave a session that did not start looking "starting": report it and let the customer retry.
            logger.exception("session %s did not start", spec.id)
            self.hosted.pop(spec.id, None)  # the caller holds this session's lock: tear down directly
            await self._stop(hosted, final_snapshot=False)
            self.publish(spec, "session.state", {"state": "failed", "reason": f"start_failed: {error}"[:200]})

    async def _stop(self, hosted: Hosted, *, final_snapshot: bool) -> None:
        if hosted.snapshot_task is not None:
            hosted.snapshot_task.cancel()
        if hosted.sender is not None:
            hosted.sender.cancel()
        try:
            await hosted.session.stop()
        except Exception:
            logger.exception("session %s did not stop cleanly", hosted.spec.id)
        if final_snapshot:
            await self.write_snapshot(hosted)

    async def _drop(self, session_id: str, *, wipe: bool, final_snapshot: bool, epoch: int | None = None) -> bool:
        """Stop the session if it runs here (under ``epoch``, when given); whether it did."""
        async with self._lock(session_id):
            hosted = self.hosted.get(session_id)
            if hosted is not None and epoch is not None and hosted.spec.epoch != epoch:
                return False  # a newer run of it: left alone
            if hosted is not None:
                del self.hosted[session_id]
                await self._stop(hosted, final_snapshot=final_snapshot)
            if wipe:
                await asyncio.to_thread(shutil.rmtree, self.store_dir(session_id), True)
        return hosted is not None

    async def stop(self, session_id: str, *, announce: bool = True) -> None:
        """Stop and keep the store (the next start resumes without pairing); write a final snapshot."""
        hosted = self.hosted.get(session_id)
        await self._drop(session_id, wipe=False, final_snapshot=True)
        if hosted is not None and announce:
            self.publish(hosted.spec, "session.state", {"state": "stopped", "reason": "stopped by request"})

    async def logout(self, session_id: str) -> None:
        hosted = self.hosted.get(session_id)
        if hosted is not None:
            async with self._lock(session_id):
                try:
                    await hosted.session.logout()
                except Exception:
                    logger.exception("session %s: logout at WhatsApp failed; dropping the device locally", session_id)
        await self._drop(session_id, wipe=True, final_snapshot=False)
        if hosted is not None:
            self.publish(hosted.spec, "session.state", {"state": "logged_out", "reason": "logged out by request"})

    async def forget(self, session_id: str) -> None:
        """Deleted, logged out or moved elsewhere: stop without a snapshot and delete the local store."""
        await self._drop(session_id, wipe=True, final_snapshot=False)

    async def fence(self, session_id: str, epoch: int) -> bool:
        """The gateway refused an event of the session under ``epoch`` as stale: it was given to another worker (or
        stopped) meanwhile. Stop it at once, without a snapshot (the other copy's is the newer one) and without a
        word (its events would be refused too), so one WhatsApp session never runs twice; the local store stays for
        the next heartbeat to settle. Whether it was running under that epoch (a newer one is left alone)."""
        if not await self._drop(session_id, wipe=False, final_snapshot=False, epoch=epoch):
            return False
        logger.warning("session %s: epoch %d is stale (it runs elsewhere now); stopped it", session_id, epoch)
        return True

    async def reconcile(self, desired: list[SessionSpec], forget: list[str]) -> None:
        wanted = {spec.id: spec for spec in desired}
        for session_id in forget:
            if session_id not in wanted:
                await self.forget(session_id)
        for session_id in list(self.hosted):
            if session_id not in wanted:
                # Not ours any more (stopped, or failed over under a newer epoch): let go quietly.
                await self._drop(session_id, wipe=False, final_snapshot=True)
        outcomes = await asyncio.gather(*(self.ensure(spec) for spec in wanted.values()), return_exceptions=True)
        for spec, outcome in zip(wanted.values(), outcomes, strict=True):
            if isinstance(outcome, BaseException):
                logger.error("session %s could not be started: %r", spec.id, outcome)

    async def shutdown(self) -> None:
        """SIGTERM: stop every session cleanly with a final snapshot; announce nothing (this is not a customer stop)."""
        await asyncio.gather(
            *(self._drop(session_id, wipe=False, final_snapshot=True) for session_id in list(self.hosted)),
            return_exceptions=True,
        )

    # --- the outbox -------------------------------------------------------------------------------------------------

    def enqueue(self, session_id: str, epoch: int, messages: list[dict[str, Any]], rate_per_minute: int) -> list[str]:
        hosted = self.hosted.get(session_id)
        if hosted is None or hosted.spec.epoch != epoch:
            raise EngineError("not_running", "This worker does not run that session under that epoch.")
        accepted = self.outbox.enqueue(session_id, messages)
        hosted.bucket.set_rate(rate_per_minute)
        hosted.wake.set()
        return accepted

    async def _send_loop(self, hosted: Hosted) -> None:
        """Send the session's queued messages one at a time, in order, paced, each at most once."""
        session_id = hosted.spec.id
        while True:
            # An indexed lookup in a local file, done in the loop as mark() and the spool's writes are: handing it to a
            # thread cost more than the lookup (15 % of a sandbox worker's time under bench.messaging's load).
            message = self.outbox.next_queued(session_id)
            if message is None:
                hosted.wake.clear()
                await hosted.wake.wait()
                continue
            await hosted.connected.wait()
            expires_at = message.get("expires_at")
            if expires_at and datetime.fromisoformat(expires_at) <= datetime.now(UTC):
                self.outbox.mark(message["id"], "failed")
                self.publish(hosted.spec, "message.failed", {"message_id": message["id"], "reason": "expired"})
                continue
            while (delay := hosted.bucket.wait_time()) > 0:
                await asyncio.sleep(delay)
            self._resolve_references(message)
            self.outbox.mark(message["id"], "sending")
            try:
                receipt = await hosted.session.send(message)
            except EngineError as refused:
                if refused.code == "not_connected":
                    self.outbox.mark(message["id"], "queued")  # never left: it may go once the session is back
                    hosted.connected.clear()
                    continue
                self.outbox.mark(message["id"], "failed")
                self.publish(hosted.spec, "message.failed", {"message_id": message["id"], "reason": refused.code})
                continue
            except Exception as error:
                logger.exception("session %s: sending %s failed", session_id, message["id"])
                self.outbox.mark(message["id"], "failed")
                self.publish(
                    hosted.spec, "message.failed", {"message_id": message["id"], "reason": f"error: {error}"[:200]}
                )
                continue
            self.outbox.mark(message["id"], "sent", receipt.wa_id)
            self.publish(
                hosted.spec,
                "message.sent",
                {"message_id": message["id"], "wa_id": receipt.wa_id, "timestamp": receipt.timestamp.isoformat()},
            )

    def _resolve_references(self, message: dict[str, Any]) -> None:
        """Quoted and target messages we sent ourselves may have been queued with no WhatsApp id yet."""
        for key in ("reply_to", "target"):
            ref = message.get(key)
            if ref and not ref.get("wa_id") and ref.get("message_id"):
                ref["wa_id"] = self.outbox.wa_id(ref["message_id"])

    def running(self) -> list[dict[str, Any]]:
        return [{"id": h.spec.id, "epoch": h.spec.epoch, "state": h.state} for h in self.hosted.values()]

    def stored(self) -> list[str]:
        return [path.name for path in self.sessions_dir.iterdir() if path.is_dir() and any(path.iterdir())]

    def get(self, session_id: str) -> Hosted | None:
        return self.hosted.get(session_id)
