"""The neonize engine: real WhatsApp sessions through neonize (whatsmeow in Go), one client per session.

Each session keeps its own whatsmeow SQLite store at ``<store_dir>/whatsmeow.sqlite3`` and its own client id (the
session id). neonize is imported when the engine is constructed, after logging is configured; Go's log level comes
from ``WORKER_NEONIZE_LOG_LEVEL`` (default WARNING) unless given. The facts this rests on are in NEONIZE.md; the
moving parts are in ``worker_node.engines.neonize``: ``runtime`` (the process-wide Go lock, logging, the client
factory), ``session`` (threads, retries, the QR watchdog), ``translate`` (pure event translation), ``store``
(snapshots and restores), and for messages ``messaging`` (the session's commands), ``outgoing`` (building and
sending), ``inbound`` (received messages and their media), ``preview`` (link previews) and ``mediameta``.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from worker_node.engines.base import Emit, Engine, SessionSpec
from worker_node.engines.neonize import store
from worker_node.engines.neonize.runtime import (
    ClientFactory,
    GoThreads,
    NeonizeConfig,
    event_classes,
    load_neonize,
    new_client,
    parse_log_level,
)
from worker_node.engines.neonize.session import NeonizeSession

__all__ = ["NeonizeConfig", "NeonizeEngine", "NeonizeSession"]


class NeonizeEngine(Engine):
    name = "neonize"

    def __init__(
        self,
        config: NeonizeConfig | None = None,
        *,
        log_level: str | int | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        config = config or NeonizeConfig.from_env()
        if log_level is not None:
            config = replace(config, log_level=parse_log_level(log_level))
        self.config = config
        load_neonize(config.log_level)
        self._event_classes = event_classes()
        self._client_factory = client_factory or new_client
        self._threads = GoThreads(
            launch=ThreadPoolExecutor(max_workers=2, thread_name_prefix="neonize-start"),
            stop=ThreadPoolExecutor(max_workers=4, thread_name_prefix="neonize-stop"),
            calls=ThreadPoolExecutor(max_workers=config.call_threads, thread_name_prefix="neonize-call"),
        )
        self._sessions: weakref.WeakSet[NeonizeSession] = weakref.WeakSet()

    def open_session(self, spec: SessionSpec, store_dir: Path, emit: Emit) -> NeonizeSession:
        session = NeonizeSession(
            spec,
            store_dir,
            emit,
            config=self.config,
            client_factory=self._client_factory,
            event_classes=self._event_classes,
            threads=self._threads,
        )
        self._sessions.add(session)
        return session

    @staticmethod
    def restore(store_dir: Path, snapshot: bytes) -> None:
        store.restore_snapshot(store_dir, snapshot)

    async def close(self) -> None:
        await asyncio.gather(*(session.stop() for session in list(self._sessions)), return_exceptions=True)
        for executor in (self._threads.launch, self._threads.stop, self._threads.calls):
            executor.shutdown(wait=False, cancel_futures=True)
