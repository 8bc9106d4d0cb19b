"""One WhatsApp session on one neonize client at a time.

Threads: neonize's sync ``connect()`` blocks its thread until the client is stopped, so each client gets a daemon
thread for it (neonize adds one more inside). Starts and stops run in the engine's small thread pools under
``GO_LOCK``; sends, downloads and the other ordinary calls in its call pool, entering Go with ``GO_LOCK`` held shared
(``runtime.go_call``). Go calls our handlers on its own thread; they translate (pure and quick) and hand the result to
the asyncio loop with ``call_soon_threadsafe``, which is also how every event reaches ``emit``: ``emit`` is only ever
called on the loop captured by ``start()``. Received messages pass through ``inbound.Receiver`` (media first).

A runner task owns the client's life: it launches a client, waits until ``connect()`` returns (a failed dial, ~0.01 s
without a network) or until told to stop, stops the client, and retries with capped exponential backoff, parking the
session as failed after ``max_attempts`` consecutive failures (each failed connect leaks a descriptor in Go).
Terminal events (logged out, QR codes ran out, stream replaced, …) stop the client the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import threading
from concurrent.futures import Executor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from worker_node.engines.base import (
    Account,
    Emit,
    EngineError,
    EngineEvent,
    EngineSession,
    PairingCode,
    QRCode,
    SessionSpec,
    StateChanged,
    StoreChanged,
)
from worker_node.engines.neonize import inbound, outgoing, store, translate
from worker_node.engines.neonize.attempt import Attempt, launch, stop_client
from worker_node.engines.neonize.messaging import Messaging
from worker_node.engines.neonize.runtime import GO_LOCK, ClientFactory, GoThreads, NeonizeConfig

logger = logging.getLogger(__name__)

TERMINAL_STATES = {"failed", "logged_out"}
# Events that become a stored message on the gateway: their media is downloaded first.
STORED_MESSAGE_EVENTS = ("message.received", "message.own_device")


class NeonizeSession(Messaging, EngineSession):
    def __init__(
        self,
        spec: SessionSpec,
        store_dir: Path,
        emit: Emit,
        *,
        config: NeonizeConfig,
        client_factory: ClientFactory,
        event_classes: dict[str, Any],
        threads: GoThreads,
    ) -> None:
        super().__init__(spec, store_dir, emit)
        self.config = config
        self._client_factory = client_factory
        self._event_classes = event_classes
        self._threads = threads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = threading.Event()  # read by launch threads
        self._wake = asyncio.Event()  # set when the runner should stop what it is doing
        self._runner: asyncio.Task[None] | None = None
        self._store_watch: asyncio.Task[None] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._attempt: Attempt | None = None
        self._terminal: StateChanged | None = None
        self._stopped = False
        self._failures = 0
        self._account: Account | None = None
        self._pairing_by_code = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._online = False  # connected, as last reported: sends go out only then
        self._quotes = outgoing.QuoteCache(config.quote_cache_size)
        self._receiver = inbound.Receiver(spec.id, self._emit, self._download, config.media_max_bytes)

    @property
    def store_path(self) -> Path:
        return store.store_path(self.store_dir)

    # --- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None or self._stopped:
            return
        self._loop = asyncio.get_running_loop()
        self._runner = self._loop.create_task(self._run(), name=f"neonize:{self.spec.id}")

    async def stop(self) -> None:
        """Stop within ``stop_timeout``; a client still dialing is stopped in the background once its dial ends."""
        if self._stopped:
            return
        self._stop_requested.set()
        self._wake.set()
        self._cancel_watchdog()
        if self._store_watch is not None:
            self._store_watch.cancel()
        if self._runner is not None and not self._runner.done():
            done, _ = await asyncio.wait({self._runner}, timeout=self.config.stop_timeout)
            if not done:
                logger.warning("session %s: stop is taking long; finishing it in the background", self.spec.id)
        await asyncio.sleep(0)  # deliver events Go handed over before the stop
        await self._receiver.close()
        self._stopped = True

    def _halting(self) -> bool:
        return self._stop_requested.is_set() or self._terminal is not None

    def _call_pool(self) -> Executor:
        return self._threads.calls

    async def _run(self) -> None:
        try:
            while not self._halting():
                attempt = await self._in_thread(self._threads.launch, self._launch)
                if attempt is None:
                    break
                wake = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({attempt.ended_future, wake}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    wake.cancel()
                await self._retire(attempt)
                if self._halting():
                    break
                self._failures = 1 if attempt.connected else self._failures + 1
                reason = f"connect_failed: {translate.short_error(attempt.error)}" if attempt.error else "disconnected"
                if self._failures >= self.config.max_attempts:
                    logger.warning("session %s: giving up after %d connects: %s", self.spec.id, self._failures, reason)
                    self._terminate(StateChanged("failed", reason=reason))
                    break
                self._emit(StateChanged("reconnecting", reason=reason))
                await self._sleep_or_wake(self._backoff(self._failures))
        except Exception:
            logger.exception("session %s: the neonize runner crashed", self.spec.id)
            self._terminate(StateChanged("failed", reason="engine_error"))
        finally:
            self._cancel_watchdog()

    def _backoff(self, failures: int) -> float:
        delay = min(self.config.backoff_max, self.config.backoff_base * 2 ** (failures - 1))
        return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not security

    async def _sleep_or_wake(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _in_thread(self, executor: Executor, fn: Any, *args: Any) -> Any:
        assert self._loop is not None
        return await self._loop.run_in_executor(executor, functools.partial(fn, *args))

    def _launch(self) -> Attempt | None:
        assert self._loop is not None
        return launch(
            session_id=self.spec.id,
            store_path=self.store_path,
            factory=self._client_factory,
            loop=self._loop,
            subscribe=self._subscribe,
            start_grace=self.config.start_grace,
            halting=self._halting,
        )

    def _subscribe(self, attempt: Attempt) -> None:
        """Called by ``launch`` before ``connect()`` (neonize takes one handler per event type); makes it current."""
        self._attempt = attempt
        attempt.client.event.qr(functools.partial(self._on_go_qr, attempt))
        for name in translate.SUBSCRIBED_EVENTS:
            attempt.client.event(self._event_classes[name])(functools.partial(self._on_go_event, attempt))

    async def _retire(self, attempt: Attempt) -> None:
        """Stop the attempt's client under GO_LOCK and wait (bounded) for its ``connect()`` to return."""
        if not attempt.sign.is_set():
            # Still dialing: Stop would block until the dial ends, holding GO_LOCK for everyone. Wait it out unlocked.
            await asyncio.wait({attempt.sign_future}, timeout=self.config.dial_timeout)
        await self._in_thread(self._threads.stop, stop_client, attempt)
        if not attempt.ended.is_set():
            done, _ = await asyncio.wait({attempt.ended_future}, timeout=self.config.join_timeout)
            if not done:
                logger.warning(
                    "session %s: connect() did not return after stop; leaving its thread behind", self.spec.id
                )
        if self._attempt is attempt:
            self._attempt = None
            self._online = False

    # --- events from Go (any thread) ---------------------------------------------------------------------------

    def _on_go_qr(self, attempt: Attempt, client: Any, data: bytes) -> None:
        attempt.signal(attempt.sign, attempt.sign_future)
        code = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        self._post(self._handle_qr, attempt, code, datetime.now(UTC))

    def _on_go_event(self, attempt: Attempt, client: Any, event: Any) -> None:
        attempt.signal(attempt.sign, attempt.sign_future)
        try:
            name = translate.type_name(event)
            device = attempt.device() if name == "neonize.Connected" else None
            events = translate.translate(event, device=device, account=self._account)
            # Messages from the account's other devices carry media too, and can be quoted by a reply from the API.
            received = name == "neonize.Message" and bool(events) and events[0].type in STORED_MESSAGE_EVENTS
            spec = inbound.media_spec(event.Message) if received else None
        except Exception:
            logger.exception("session %s: could not translate %s", self.spec.id, type(event).__name__)
            return
        if received:
            self._post(self._handle_received, attempt, events[0], event.Message, spec)
        elif events:
            self._post(self._handle_events, attempt, events)

    def _post(self, fn: Any, *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            logger.debug("session %s: event after the loop closed", self.spec.id)

    # --- events on the loop ------------------------------------------------------------------------------------

    def _emit(self, event: EngineEvent) -> None:
        if self._stopped:
            return
        try:
            self.emit(event)
        except Exception:
            logger.exception("session %s: emit failed for %s", self.spec.id, event.type)

    def _terminate(self, event: StateChanged) -> None:
        """Report a final state once and have the runner stop the client."""
        if self._terminal is not None:
            return
        self._terminal = event
        self._cancel_watchdog()
        self._emit(event)
        self._wake.set()

    def _handle_events(self, attempt: Attempt, events: list[EngineEvent]) -> None:
        if attempt is not self._attempt or self._halting():
            return
        for event in events:
            if isinstance(event, StateChanged):
                if event.state in TERMINAL_STATES:
                    self._terminate(event)
                    return
                if event.state == "connected":
                    self._on_connected(attempt, event)
                    event = replace(event, account=self._account)
                self._online = event.state == "connected"
            self._emit(event)

    def _on_connected(self, attempt: Attempt, event: StateChanged) -> None:
        attempt.connected = True
        self._failures = 0
        self._cancel_watchdog()
        if event.account is not None:
            self._account = event.account
        if self._store_watch is None or self._store_watch.done():
            assert self._loop is not None
            self._store_watch = self._loop.create_task(self._watch_store(attempt))

    def _handle_qr(self, attempt: Attempt, code: str, received_at: datetime) -> None:
        if attempt is not self._attempt or self._halting() or attempt.connected:
            return
        schedule = self.config.qr_schedule
        ttl = schedule[min(attempt.qr_count, len(schedule) - 1)]
        attempt.qr_count += 1
        # Code pairing needs the number: without one the session shows QR codes, and a code can be asked for then.
        by_code = self.spec.pairing_method == "code" and bool(self.spec.pairing_phone)
        if attempt.qr_count == 1:
            if by_code:
                assert self._loop is not None
                task = self._loop.create_task(self._pair_on_start(self.spec.pairing_phone))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self._emit(StateChanged("scan_qr"))
        if not self._pairing_by_code and not by_code:
            self._emit(QRCode(code=code, expires_at=received_at + timedelta(seconds=ttl)))
        self._arm_watchdog(attempt, ttl + self.config.qr_grace)

    # --- QR watchdog: when the codes run out, the socket closes and connect() blocks with no event --------------

    def _arm_watchdog(self, attempt: Attempt, seconds: float) -> None:
        assert self._loop is not None
        self._cancel_watchdog()
        self._watchdog = self._loop.call_later(seconds, self._qr_expired, attempt)

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _qr_expired(self, attempt: Attempt) -> None:
        self._watchdog = None
        if attempt is self._attempt and not attempt.connected and not self._halting():
            self._terminate(StateChanged("failed", reason="qr_timeout"))

    # --- the store ---------------------------------------------------------------------------------------------

    async def _watch_store(self, attempt: Attempt) -> None:
        """While connected, report store changes so the host snapshots them (debounced on its side)."""
        stamp = store.store_stamp(self.store_path)
        while attempt is self._attempt and not self._halting():
            await self._sleep_or_wake(self.config.store_check_interval)
            if attempt is not self._attempt or self._halting():
                return
            current = store.store_stamp(self.store_path)
            if current != stamp:
                stamp = current
                self._emit(StoreChanged())

    def store_files(self) -> list[Path]:
        return [self.store_path] if store.is_paired(self.store_path) else []

    def snapshot(self) -> bytes | None:
        return store.take_snapshot(self.store_path)

    # --- commands ----------------------------------------------------------------------------------------------

    def _pairing_attempt(self) -> Attempt:
        attempt = self._attempt
        if self._halting() or (attempt is not None and attempt.connected):
            raise EngineError("not_pairing", "The session is not waiting to be paired.")
        if attempt is None or attempt.ended.is_set() or attempt.qr_count == 0:
            raise EngineError("not_ready", "The session is still connecting to WhatsApp; try again in a moment.")
        return attempt

    async def pair_phone(self, phone: str) -> str:
        digits = "".join(ch for ch in phone if ch.isdigit())
        if not 7 <= len(digits) <= 15:
            raise EngineError("invalid_phone", "Give the phone number with its country code, digits only.")
        attempt = self._pairing_attempt()
        try:
            code = await asyncio.wait_for(
                asyncio.to_thread(self._pair_phone_blocking, attempt, digits), timeout=self.config.call_timeout
            )
        except TimeoutError:
            raise EngineError("pair_phone_timeout", "WhatsApp did not answer the pairing request in time.")
        self._pairing_by_code = True
        self._emit(StateChanged("pairing_code"))
        self._emit(PairingCode(code=code, phone=f"+{digits}"))
        return code

    def _pair_phone_blocking(self, attempt: Attempt, digits: str) -> str:
        from neonize.utils.enum import ClientName

        with GO_LOCK:
            if not attempt.alive() or attempt is not self._attempt:
                raise EngineError("not_ready", "The session's connection ended; try again in a moment.")
            try:
                return str(attempt.client.PairPhone(digits, True, client_name=ClientName.LINUX))
            except Exception as error:
                raise EngineError("pair_phone_failed", f"WhatsApp refused the pairing request: {error}")

    async def _pair_on_start(self, phone: str) -> None:
        try:
            await self.pair_phone(phone)
        except EngineError as error:
            if not self._halting():
                self._terminate(StateChanged("failed", reason=f"{error.code}: {error.message}"))

    async def logout(self) -> None:
        attempt = self._attempt
        if attempt is None or not attempt.connected or attempt.ended.is_set():
            raise EngineError("not_connected", "The session is not connected to WhatsApp, so it cannot log out there.")
        try:
            await asyncio.wait_for(asyncio.to_thread(self._logout_blocking, attempt), timeout=self.config.call_timeout)
        except TimeoutError:
            raise EngineError("logout_timeout", "WhatsApp did not confirm the logout in time.")
        self._terminate(StateChanged("logged_out", reason="logout"))

    def _logout_blocking(self, attempt: Attempt) -> None:
        with GO_LOCK:
            if not attempt.alive():
                raise EngineError("not_connected", "The session's connection ended before the logout.")
            try:
                attempt.client.logout()
            except Exception as error:
                raise EngineError("logout_failed", f"WhatsApp refused the logout: {error}")
