"""Process-wide neonize plumbing: configuration, logging, the lazy import, the Go lock and the client factory.

neonize's Go library keeps its client tables in unlocked maps, so concurrent starts and stops abort the whole process
("fatal error: concurrent map writes"). Every other Go call reads the table once, on entry, to find its client, and
a read that meets a start or a stop aborts the process too ("concurrent map read and map write": measured here with
sends on offline clients while others started and stopped). ``GO_LOCK`` guards both. There is one per process,
shared by every engine and session:

- held exclusively (``with GO_LOCK``) by what writes the tables, starting and stopping a client, and by the rare
  calls that must not meet a stop (pair by phone, logout, get_me);
- held shared by ordinary calls on a live client (sends, uploads, downloads, receipts, presence) through
  ``go_call``. A shared holder only counts for ``ENTRY_GRACE`` seconds, long enough for its call to have entered Go:
  a send that waits 75 s for WhatsApp's ack must not hold up every start and stop in the process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from worker_node.config import env_bool, env_float, env_int

T = TypeVar("T")

ENTRY_GRACE = 1.0  # seconds a shared holder may take to get from go_call into Go (Python prelude, a busy GIL)


class GoLock:
    """Exclusive for writers of Go's client tables, shared for ordinary calls; a drop-in for ``threading.Lock``.

    Writers wait for shared holders younger than ``entry_grace`` (older ones are inside Go already). While a writer
    waits, newcomers wait behind it; when it is done, everyone who was waiting for it goes before the next writer,
    so a queue of starts (a worker restarting hundreds of sessions) cannot starve the sends of connected ones.
    """

    def __init__(self, entry_grace: float = ENTRY_GRACE) -> None:
        self.entry_grace = entry_grace
        self._cond = threading.Condition(threading.Lock())
        self._writer = False
        self._writers_waiting = 0
        self._readers: dict[int, float] = {}  # ticket -> when it got in
        self._waiting: set[int] = set()  # tickets of shared callers still waiting
        self._next_ticket = 0
        self._admitted = 0  # shared callers with a smaller ticket go before the writers that are waiting

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        deadline = time.monotonic() + (0 if not blocking else timeout if timeout >= 0 else 1e9)
        with self._cond:
            self._writers_waiting += 1
            try:
                while True:
                    wait = self._writer_must_wait()
                    if wait == 0:
                        self._writer = True
                        return True
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(min(wait, left))
            finally:
                self._writers_waiting -= 1

    def _writer_must_wait(self) -> float:
        """0 when a writer may go now, else how long to wait at most before looking again."""
        if self._writer or any(ticket < self._admitted for ticket in self._waiting):
            return 1e9  # woken by a release
        if not self._readers:
            return 0
        youngest = time.monotonic() - max(self._readers.values())
        return max(0.0, self.entry_grace - youngest)

    def release(self) -> None:
        with self._cond:
            if not self._writer:
                raise RuntimeError("release of an unlocked GoLock")
            self._writer = False
            self._admitted = self._next_ticket
            self._cond.notify_all()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire_shared(self, timeout: float) -> int | None:
        """A ticket to pass to ``release_shared``, or None when no writer let us in within ``timeout``."""
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._waiting.add(ticket)
            try:
                entered = self._cond.wait_for(
                    lambda: not self._writer and (self._writers_waiting == 0 or ticket < self._admitted), timeout
                )
            finally:
                self._waiting.discard(ticket)
                self._cond.notify_all()  # a writer may wait for the admitted ones to pass
            if not entered:
                return None
            self._readers[ticket] = time.monotonic()
            return ticket

    def release_shared(self, ticket: int) -> None:
        with self._cond:
            self._readers.pop(ticket, None)
            self._cond.notify_all()


GO_LOCK = GoLock()
_LIVE_UUIDS: set[str] = set()  # client ids Go may still hold; guarded by GO_LOCK


class ClientGone(Exception):
    """The client was stopped or is being stopped: the call was not made."""


class GoBusy(Exception):
    """GO_LOCK stayed taken by starts or stops for too long: the call was not made."""


def go_call(alive: Callable[[], bool], fn: Callable[..., T], *args: Any, wait: float = 30.0) -> T:
    """Make one ordinary Go call on a client (blocking: run it in a thread) if ``alive()`` says it is still running.

    ``alive`` is checked with GO_LOCK held shared, so no stop can remove the client from Go's table between the check
    and the call's entry into Go.
    """
    ticket = GO_LOCK.acquire_shared(wait)
    if ticket is None:
        raise GoBusy(f"neonize's client table stayed locked for {wait:.0f} s")
    try:
        if not alive():
            raise ClientGone("the WhatsApp client was stopped")
        return fn(*args)
    finally:
        GO_LOCK.release_shared(ticket)


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
    call_timeout: float = 30.0  # pair_phone and logout, and the short calls: read receipts, number checks, presence
    send_timeout: float = 300.0  # a safety net; whatsmeow gives up waiting for an ack after 75 s, uploads take longer
    call_threads: int = 64  # ordinary Go calls block a thread each (a send until the server acks)
    media_max_bytes: int = 64 * 1024 * 1024  # larger inbound media is reported, not downloaded
    preview_allow_private: bool = False  # link previews may fetch private addresses (development only)
    quote_cache_size: int = 100  # recent messages per session kept to show in quotes of replies to them
    store_check_interval: float = 30.0  # while connected: look for store changes to snapshot

    @classmethod
    def from_env(cls) -> NeonizeConfig:
        return cls(
            log_level=parse_log_level(os.environ.get(LOG_LEVEL_ENV, "WARNING")),
            media_max_bytes=env_int("MEDIA_MAX_BYTES", 64 * 1024 * 1024, minimum=1024),
            preview_allow_private=env_bool("ALLOW_PRIVATE_NETWORK_TARGETS", False),
            max_attempts=env_int("WORKER_NEONIZE_MAX_ATTEMPTS", 8, minimum=1),
            backoff_max=env_float("WORKER_NEONIZE_BACKOFF_MAX_SECONDS", 60.0, minimum=0.01),
        )


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
    of launches (a worker restarting hundreds of sessions), and ordinary calls (sends block until WhatsApp acks) in
    a third; none starves the loop's default executor."""

    launch: Executor
    stop: Executor
    calls: Executor


class GoClient(Protocol):
    """The part of ``neonize.client.NewClient`` the engine uses; tests inject fakes of this shape."""

    event: Any
    me: Any

    def connect(self) -> Any: ...

    def stop(self) -> Any: ...

    def logout(self) -> Any: ...

    def get_me(self) -> Any: ...

    def PairPhone(self, phone: str, show_push_notification: bool, client_name: Any = ...) -> str: ...

    def send_message(self, to: Any, message: Any) -> Any: ...

    def upload(self, binary: bytes, media_type: Any = ...) -> Any: ...

    def build_document_message(self, file: bytes, *args: Any, **kwargs: Any) -> Any: ...

    def build_sticker_message(self, file: bytes, *args: Any, **kwargs: Any) -> Any: ...

    def download_any(self, message: Any) -> Any: ...

    def mark_read(self, *message_ids: str, chat: Any, sender: Any, receipt: Any) -> Any: ...

    def is_on_whatsapp(self, *numbers: str) -> Any: ...

    def send_chat_presence(self, jid: Any, state: Any, media: Any) -> Any: ...


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
