"""One neonize client and its ``connect()`` thread: the code that runs off the loop, in threads, under ``GO_LOCK``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from worker_node.engines.neonize.runtime import (
    GO_LOCK,
    ClientFactory,
    GoClient,
    claim_uuid,
    disarm_finalizer,
    go_call,
    release_uuid,
)

T = TypeVar("T")

logger = logging.getLogger(__name__)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(eq=False)
class Attempt:
    """One client. ``sign`` is set by its first callback or when ``connect()`` returns; ``ended`` when it returned.

    Each has a future twin for the loop to await. The QR count and ``connected`` are only touched on the loop.
    """

    client: GoClient
    uuid: str
    session_id: str
    loop: asyncio.AbstractEventLoop
    sign: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    sign_future: asyncio.Future[None] = field(init=False)
    ended_future: asyncio.Future[None] = field(init=False)
    error: BaseException | None = None
    qr_count: int = 0
    connected: bool = False
    stopping: bool = False  # set under GO_LOCK just before Stop: from then on Go may not know the client

    def alive(self) -> bool:
        return not self.stopping and not self.ended.is_set()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """An ordinary Go call on this client (blocking); ``ClientGone`` once it is being stopped."""
        return go_call(self.alive, fn, *args)

    def __post_init__(self) -> None:
        self.sign_future = self.loop.create_future()
        self.ended_future = self.loop.create_future()

    def signal(self, event: threading.Event, future: asyncio.Future[None]) -> None:
        """Set ``event`` and its future; from any thread."""
        if event.is_set():
            return
        event.set()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self.loop.call_soon_threadsafe(_resolve, future)

    def connect(self) -> None:
        """The connect thread: blocks in Go until the client is stopped, or returns at once when the dial fails."""
        try:
            self.client.connect()
        except BaseException as error:  # NeonizeError, or anything a Go call raised: the session retries or parks
            self.error = error
            logger.debug("session %s: connect failed: %s", self.session_id, error)
        finally:
            self.signal(self.sign, self.sign_future)
            self.signal(self.ended, self.ended_future)

    def device(self) -> Any:
        """Who we are, for a Connected event: neonize fills ``client.me`` just before it; else ask Go (connected)."""
        me = getattr(self.client, "me", None)
        if me is not None and me.JID.User:
            return me
        if not GO_LOCK.acquire(timeout=2):
            return None  # a long stop holds the lock; the account follows with the next Connected
        try:
            return self.client.get_me() if self.alive() else None  # GetMe panics once Stop dropped the client
        except Exception:
            logger.exception("session %s: get_me failed", self.session_id)
            return None
        finally:
            GO_LOCK.release()


def launch(
    *,
    session_id: str,
    store_path: Path,
    factory: ClientFactory,
    loop: asyncio.AbstractEventLoop,
    subscribe: Callable[[Attempt], None],
    start_grace: float,
    halting: Callable[[], bool],
) -> Attempt | None:
    """Create a client, subscribe, and start ``connect()`` in its own thread, all under GO_LOCK (a blocking call).

    The lock is held until the client's first callback (or ``start_grace``): that covers Go's writes to its client
    tables at the start of ``connect()``. None when the session began halting while this waited for the lock.
    """
    with GO_LOCK:
        if halting():
            return None
        store_path.parent.mkdir(parents=True, exist_ok=True)
        uuid = claim_uuid(session_id)
        try:
            client = factory(str(store_path.resolve()), uuid)
            disarm_finalizer(client)
            attempt = Attempt(client=client, uuid=uuid, session_id=session_id, loop=loop)
            subscribe(attempt)
        except BaseException:
            release_uuid(uuid)
            raise
        thread = threading.Thread(target=attempt.connect, name=f"neonize-connect-{session_id}", daemon=True)
        thread.start()
        attempt.sign.wait(start_grace)
    return attempt


def stop_client(attempt: Attempt) -> None:
    """Stop the client under GO_LOCK (a blocking call; it blocks longer while the client is dialing)."""
    with GO_LOCK:
        attempt.stopping = True
        try:
            attempt.client.stop()
        except Exception:
            logger.exception("session %s: stopping the neonize client failed", attempt.session_id)
        finally:
            release_uuid(attempt.uuid)
