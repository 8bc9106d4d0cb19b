"""The worker process: enroll, serve the gateway's commands, heartbeat, ship spooled events, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from aiohttp import web
from django.core.exceptions import ImproperlyConfigured

from worker_node.config import WorkerConfig
from worker_node.contract.events import FENCED_CODES
from worker_node.crypto import SnapshotKeyError, SnapshotKeys
from worker_node.engines import build_engine
from worker_node.engines.base import SessionSpec
from worker_node.gateway import GatewayClient, GatewayError, WorkerRefused
from worker_node.host import SessionHost
from worker_node.server import build_app
from worker_node.snapshots import SnapshotStore, configure_storage
from worker_node.spool import Spool

logger = logging.getLogger("worker_node")
MAX_BACKOFF = 30.0


class WorkerNode:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.stopping = asyncio.Event()
        self.events_waiting = asyncio.Event()
        self.heartbeat_interval = 5.0
        self.exit_code = 0
        self.event_requests = self.events_shipped = 0
        self._last_post = float("-inf")

    async def run(self) -> int:
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        configure_storage(config.object_store_dir)
        keys = SnapshotKeys.from_setting_or_file(
            config.snapshot_keys, config.data_dir / "snapshot-dev.key", development=config.debug
        )
        self.spool = Spool(config.data_dir / "spool.sqlite3")
        self.engine = build_engine(config)
        self.host = SessionHost(
            engine=self.engine,
            data_dir=config.data_dir,
            spool=self.spool,
            snapshots=SnapshotStore(keys),
            snapshot_debounce=config.snapshot_debounce,
            on_event=self.events_waiting.set,
        )
        self.gateway = GatewayClient(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)

        runner = web.AppRunner(
            build_app(
                self.host,
                lambda: self.gateway.identity.token_hash if self.gateway.identity else "00",
                self._shipping_figures,
            )
        )
        await runner.setup()
        await web.TCPSite(runner, config.listen_host, config.listen_port).start()
        logger.info("worker %s (%s engine) listening on %s", config.name, config.engine, config.advertise_url)
        try:
            if await self._register():
                self.events_waiting.set()  # ship whatever the spool kept from before a crash
                await asyncio.gather(self._heartbeats(), self._shipping(), self._until_stopped())
        finally:
            await self._shutdown(runner)
        return self.exit_code

    async def _register(self) -> bool:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                await self.gateway.register()
                return True
            except WorkerRefused as refused:
                logger.error("the gateway refuses this worker: %s", refused)
                self.exit_code = 3
                self.stopping.set()
            except GatewayError as error:
                logger.warning("gateway not reachable (%s); retrying in %.1f s", error, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        return False

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    async def _until_stopped(self) -> None:
        await self.stopping.wait()
        self.events_waiting.set()

    async def _heartbeats(self) -> None:
        while not self.stopping.is_set():
            try:
                answer = await self.gateway.heartbeat(len(self.host.hosted), self.host.running(), self.host.stored())
                self.heartbeat_interval = float(answer.get("heartbeat_interval", self.heartbeat_interval))
                desired = [SessionSpec(**self._spec_fields(item)) for item in answer.get("sessions", [])]
                await self.host.reconcile(desired, [str(x) for x in answer.get("forget", [])])
            except WorkerRefused as refused:
                await self._revoked(refused)
                return
            except GatewayError as error:
                logger.warning("heartbeat failed: %s", error)
            except Exception:
                logger.exception("heartbeat handling failed")
            await self._sleep(self.heartbeat_interval)

    @staticmethod
    def _spec_fields(item: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(item["id"]),
            "epoch": int(item["epoch"]),
            "engine": str(item.get("engine", "sandbox")),
            "pairing_method": str(item.get("pairing_method", "qr")),
            "pairing_phone": str(item.get("pairing_phone", "")),
        }

    async def _revoked(self, refused: GatewayError) -> None:
        """Revoked: its sessions now belong elsewhere. Let go of them (no snapshot: another worker may hold them)."""
        logger.error("this worker was revoked (%s): forgetting its sessions and exiting", refused)
        for session_id in list(self.host.hosted):
            await self.host.forget(session_id)
        self.exit_code = 3
        self.stopping.set()

    def _shipping_figures(self) -> dict[str, int]:
        """For /healthz: events waiting in the spool, and requests and events shipped since the start."""
        return {
            "events_waiting": len(self.spool),
            "event_requests": self.event_requests,
            "events_shipped": self.events_shipped,
        }

    async def _shipping(self) -> None:
        backoff = 0.2
        while True:
            await self.events_waiting.wait()
            self.events_waiting.clear()
            while batch := await self._next_batch():
                try:
                    answer = await self.gateway.post_events(batch)
                    self.event_requests += 1
                    self.events_shipped += len(batch)
                except WorkerRefused as refused:
                    await self._revoked(refused)
                    return
                except GatewayError as error:
                    if 400 <= error.status < 500:
                        logger.error("the gateway refused an event batch (%s); dropping it", error)
                        self.spool.confirm([event["id"] for event in batch])
                        continue
                    logger.warning(
                        "events not delivered (%s); %d waiting, retry in %.1f s", error, len(self.spool), backoff
                    )
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    if self.stopping.is_set():
                        return
                    continue
                backoff = 0.2
                done = answer.get("accepted", []) + answer.get("duplicates", [])
                done += [item["id"] for item in answer.get("rejected", [])]  # refused for good (stale epoch, …)
                self.spool.confirm(done)
                await self._fence_stale(batch, answer.get("rejected", []))
                if len(done) < len(batch):
                    await self._sleep(backoff)  # some failed on the gateway's side: retry them shortly
            if self.stopping.is_set():
                return

    async def _fence_stale(self, batch: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> None:
        """Sessions whose events came back as of a stale epoch run elsewhere now, and those the gateway says this
        worker never held at that epoch must not run here either: stop them at once."""
        stale = {str(item.get("id")) for item in rejected if item.get("code") in FENCED_CODES}
        fenced = {(str(event["session_id"]), int(event["epoch"])) for event in batch if event["id"] in stale}
        for session_id, epoch in sorted(fenced):
            await self.host.fence(session_id, epoch)

    async def _next_batch(self) -> list[dict[str, Any]]:
        """The next events to ship. Under load a request starts at most every ``event_interval``, so the events of
        that interval travel together: a request costs the gateway several times what an event does. The first
        event after a quiet spell leaves at once, and a full batch (a backlog) never waits."""
        size, loop = self.config.event_batch_size, asyncio.get_running_loop()
        batch = self.spool.batch(size)
        wait = self._last_post + self.config.event_interval - loop.time()
        if batch and len(batch) < size and wait > 0 and not self.stopping.is_set():
            await self._sleep(wait)
            batch = self.spool.batch(size)
        if batch:
            self._last_post = loop.time()
        return batch

    async def _shutdown(self, runner: web.AppRunner) -> None:
        logger.info("stopping: %d sessions", len(self.host.hosted))
        await self.host.shutdown()
        if self.gateway.identity is not None and self.exit_code == 0:
            try:
                await asyncio.wait_for(self._final_flush(), timeout=10)
            except (GatewayError, TimeoutError) as error:
                logger.warning("events left in the spool for the next start: %s", error)
            try:
                # Separately: the sessions must move even when the flush ran out of time.
                await self.gateway.shutting_down()
            except GatewayError as error:
                logger.warning("could not tell the gateway about the shutdown: %s", error)
        await runner.cleanup()
        await self.gateway.close()
        await self.engine.close()
        self.spool.close()
        self.host.outbox.close()
        logger.info("stopped")

    async def _final_flush(self) -> None:
        while batch := self.spool.batch(self.config.event_batch_size):
            answer = await self.gateway.post_events(batch)
            done = answer.get("accepted", []) + answer.get("duplicates", [])
            self.spool.confirm(done + [item["id"] for item in answer.get("rejected", [])])
            if not done and not answer.get("rejected"):
                return


def main() -> int:
    try:
        config = WorkerConfig.from_env()
    except ImproperlyConfigured as error:
        print(f"worker_node: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return asyncio.run(WorkerNode(config).run())
    except SnapshotKeyError as error:
        logger.error("%s", error)
        return 2
