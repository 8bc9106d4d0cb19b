"""Process-wide neonize plumbing: configuration, logging, the lazy import, the Go lock and the client factory.

neonize's Go library keeps its client tables in unlocked maps, so concurrent starts and stops abort the whole process
("fatal error: concurrent map writes"). ``GO_LOCK`` serialises every call that touches those tables: starting a
client, stopping it, and the rare direct calls (pair by phone, logout, get_me). There is one per process, shared by
every engine and session.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol

GO_LOCK = threading.Lock()
_LIVE_UUIDS: set[str] = set()  # client ids Go may still hold; guarded by GO_LOCK

LOG_LEVEL_ENV = "WORKER_NEONIZE_LOG_LEVEL"
_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.ERROR,  # Go knows nothing above ERROR
}


def parse_log_level(value: str | int) -> int:
    """DEBUG, INFO, WARNING or ERROR (names or numbers): the levels Go's logger understands."""
    if isinstance(value, int):
        if value in _LEVELS.values():
            return value
        raise ValueError(f"{LOG_LEVEL_ENV}: unsupported log level {value!r}")
    level = _LEVELS.get(value.strip().upper())
    if level is None:
        raise ValueError(f"{LOG_LEVEL_ENV}={value!r}: expected one of DEBUG, INFO, WARNING, ERROR")
    return level


@dataclass(frozen=True)
class NeonizeConfig:
    """Timings and limits of the neonize engine; tests shorten them."""

    log_level: int = logging.WARNING
    qr_schedule: tuple[float, ...] = (60, 20, 20, 20, 20, 20)  # WhatsApp's: 60 s, then 5 x 20 s
    qr_grace: float = 5.0  # after the current code expired with no new one, the watchdog gives up
    max_attempts: int = 8  # consecutive failed connects before the session parks as failed
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    start_grace: float = 1.0  # a start holds GO_LOCK until its first callback, or this long
    dial_timeout: float = 70.0  # Stop blocks until a dial ends (60 s to a silent peer): wait that out unlocked
    stop_timeout: float = 10.0  # stop() returns after this; the rest of the teardown finishes in the background
    join_timeout: float = 5.0  # how long to wait for connect() to return once the client was stopped
    call_timeout: float = 30.0  # pair_phone and logout
    store_check_interval: float = 30.0  # while connected: look for store changes to snapshot

    @classmethod
    def from_env(cls) -> NeonizeConfig:
        return cls(log_level=parse_log_level(os.environ.get(LOG_LEVEL_ENV, "WARNING")))


def configure_logging(level: int) -> None:
    """Give Python logging a handler before neonize's import calls ``logging.basicConfig(INFO)``, and route Go's logs.

    Go's log level is read from the logger ``neonize.utils.log`` at each connect; Go's lines arrive in ``whatsmeow.*``
    (and ``Whatsmeow.Database``).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("whatsmeow", "Whatsmeow", "neonize", "neonize.utils.log"):
        logging.getLogger(name).setLevel(level)


_loaded = False


class _DaemonThread(threading.Thread):
    """neonize runs each Go ``Neonize()`` call on a non-daemon thread. One that never returns would hold the process
    open at exit; whatsmeow's QR timeout does that (Go then waits forever for a device id, even after Stop), so
    neonize's connect threads are made daemon threads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["daemon"] = True
        super().__init__(*args, **kwargs)


def load_neonize(level: int) -> None:
    """Import neonize once (~0.3 s, ~52 MB) with logging set up first."""
    global _loaded
    configure_logging(level)
    if not _loaded:
        import neonize.client
        import neonize.events

        neonize.client.Thread = _DaemonThread
        _loaded = True
    configure_logging(level)  # in case the import touched levels


def event_classes() -> dict[str, Any]:
    """neonize's event classes by their name in ``neonize.events`` (``"ConnectedEv"`` …)."""
    import neonize.events

    return {name: getattr(neonize.events, name) for name in dir(neonize.events) if name.endswith(("Ev", "EV"))}


@dataclass(frozen=True)
class GoThreads:
    """Threads that wait for GO_LOCK: launches in one pool, stops in another so a stop never queues behind a crowd
    of launches (a worker restarting hundreds of sessions), and neither starves the loop's default executor."""

    launch: Executor
    stop: Executor


class GoClient(Protocol):
    """The part of ``neonize.client.NewClient`` the engine uses; tests inject fakes of this shape."""

    event: Any
    me: Any

    def connect(self) -> Any: ...

    def stop(self) -> Any: ...

    def logout(self) -> Any: ...

    def get_me(self) -> Any: ...

    def PairPhone(self, phone: str, show_push_notification: bool, client_name: Any = ...) -> str: ...


ClientFactory = Callable[[str, str], GoClient]  # (store path, client uuid) -> a client that has not connected


def new_client(store_path: str, uuid: str) -> GoClient:
    from neonize.client import NewClient

    client: GoClient = NewClient(store_path, uuid=uuid)
    return client


def claim_uuid(session_id: str) -> str:
    """A client id for Go's tables, normally the session id. Call with GO_LOCK held.

    If an earlier client of this session has not been stopped yet (a stop still waiting out a dial), reusing its id
    would let that late stop tear down the new client, so the new one gets a suffix.
    """
    uuid, n = session_id, 1
    while uuid in _LIVE_UUIDS:
        n += 1
        uuid = f"{session_id}~{n}"
    _LIVE_UUIDS.add(uuid)
    return uuid


def release_uuid(uuid: str) -> None:
    """Call with GO_LOCK held, once Go has stopped the client."""
    _LIVE_UUIDS.discard(uuid)


def disarm_finalizer(client: Any) -> None:
    """neonize stops a client from a GC finalizer, outside our lock; we always stop clients ourselves instead."""
    finalizer = getattr(client, "_stop_finalizer", None)
    if finalizer is not None:
        finalizer.detach()
