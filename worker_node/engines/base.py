"""The one small interface every WhatsApp engine implements, and the normalized events engines emit.

An engine hosts sessions. The worker's session host creates one ``EngineSession`` per WhatsApp session with the folder
that holds its local store, and a callback for events. Events are plain dataclasses; the host turns them into the
gateway's event envelopes (with an id and the session's epoch) and spools them until the gateway confirms them.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar


class EngineError(Exception):
    """A command the engine cannot carry out; ``code`` is stable and reaches the API caller."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Account:
    """The WhatsApp account a session is linked to."""

    phone: str  # E.164 with the plus, e.g. +15550001111
    jid: str
    push_name: str = ""


@dataclass(frozen=True)
class StateChanged:
    state: str  # starting, scan_qr, pairing_code, connected, reconnecting, stopped, logged_out, failed
    reason: str = ""
    account: Account | None = None
    type: ClassVar[str] = "session.state"


@dataclass(frozen=True)
class QRCode:
    code: str
    expires_at: datetime
    type: ClassVar[str] = "session.qr"


@dataclass(frozen=True)
class PairingCode:
    code: str
    phone: str
    type: ClassVar[str] = "session.pairing_code"


@dataclass(frozen=True)
class StoreChanged:
    """The local auth store changed (new keys, pairing): the host schedules a debounced snapshot. Not sent upstream."""

    type: ClassVar[str] = "store.changed"


@dataclass(frozen=True)
class GenericEvent:
    """Anything else an engine reports (messages, receipts, …), already normalized to JSON-able data."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SentReceipt:
    wa_id: str
    timestamp: datetime


EngineEvent = StateChanged | QRCode | PairingCode | StoreChanged | GenericEvent
Emit = Callable[[EngineEvent], None]


@dataclass(frozen=True)
class SessionSpec:
    """What the gateway tells a worker about a session it should run."""

    id: str
    epoch: int
    engine: str
    pairing_method: str = "qr"  # or "code"
    pairing_phone: str = ""


class EngineSession(abc.ABC):
    """One WhatsApp session inside an engine. Methods are called from the worker's asyncio loop."""

    def __init__(self, spec: SessionSpec, store_dir: Path, emit: Emit) -> None:
        self.spec = spec
        self.store_dir = store_dir
        self.emit = emit

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect: resume from the local store if it holds a paired device, else begin pairing (QR or code)."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Disconnect, keeping the local store so the next start resumes without pairing."""

    @abc.abstractmethod
    async def logout(self) -> None:
        """Unlink the device from the WhatsApp account; the caller then deletes the local store."""

    @abc.abstractmethod
    async def pair_phone(self, phone: str) -> str:
        """Ask for an 8-character pairing code for ``phone`` (digits with country code)."""

    @abc.abstractmethod
    def store_files(self) -> list[Path]:
        """The files that make up the auth store, for snapshots. Empty while nothing is paired."""

    @abc.abstractmethod
    def snapshot(self) -> bytes | None:
        """A consistent copy of the auth store, or None when there is nothing paired to keep."""

    # --- messaging: engines that cannot do one of these refuse with EngineError("unsupported", …) -------------------

    async def send(self, message: dict[str, Any]) -> SentReceipt:
        """Send one message (the gateway's payload, with wa ids of quoted and target messages resolved)."""
        raise EngineError("unsupported", f"The {self.spec.engine} engine cannot send messages yet.")

    async def mark_read(self, chat_jid: str, sender_jid: str, wa_ids: list[str]) -> None:
        raise EngineError("unsupported", f"The {self.spec.engine} engine cannot send read receipts yet.")

    async def check_numbers(self, phones: list[str]) -> list[dict[str, Any]]:
        raise EngineError("unsupported", f"The {self.spec.engine} engine cannot check numbers yet.")

    async def send_presence(self, to: str, state: str) -> None:
        raise EngineError("unsupported", f"The {self.spec.engine} engine cannot send presence yet.")

    async def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Engine-specific commands (the sandbox's scan and fault hooks); others refuse."""
        raise EngineError("unsupported_command", f"The {self.spec.engine} engine has no '{name}' command.")


class Engine(abc.ABC):
    name: ClassVar[str]

    @abc.abstractmethod
    def open_session(self, spec: SessionSpec, store_dir: Path, emit: Emit) -> EngineSession:
        """A new, not yet started session."""

    @staticmethod
    @abc.abstractmethod
    def restore(store_dir: Path, snapshot: bytes) -> None:
        """Write a snapshot taken by ``EngineSession.snapshot`` back into an empty store folder."""

    async def close(self) -> None:  # noqa: B027  (most engines hold nothing process-wide)
        """Release process-wide resources at shutdown."""
