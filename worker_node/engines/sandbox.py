"""The sandbox engine: a faithful stand-in for WhatsApp for tests, demos and customers' own integration tests.

It emits QR codes of WhatsApp's shape that rotate on WhatsApp's schedule, pairs when the sandbox "scan" command is
called (or after a pairing code is requested and then "typed"), keeps a real auth file so snapshots and restores are
exercised exactly as with neonize, and has deterministic fault hooks (disconnect, remote logout, failure).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from worker_node import media as media_store
from worker_node.engines.base import (
    Account,
    Emit,
    Engine,
    EngineError,
    EngineSession,
    GenericEvent,
    PairingCode,
    QRCode,
    SentReceipt,
    SessionSpec,
    StateChanged,
    StoreChanged,
)
from worker_node.engines.sandbox_network import SandboxNetwork

AUTH_FILE = "sandbox-auth.json"
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTVWXYZ23456789"


def _b64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


def qr_payload() -> str:
    """WhatsApp's linked-devices QR: a ref, the noise and identity public keys, the ADV secret and the client type."""
    ref = "2@" + base64.b64encode(secrets.token_bytes(48)).decode()
    return f"https://wa.me/settings/linked_devices#{ref},{_b64(32)},{_b64(32)},{_b64(32)},1"


def sandbox_phone() -> str:
    # +1 555 01xx xxxx is reserved for fiction in the NANP: it never reaches a real person.
    return "+1555" + "01" + "".join(secrets.choice("0123456789") for _ in range(5))


class SandboxSession(EngineSession):
    def __init__(
        self, spec: SessionSpec, store_dir: Path, emit: Emit, qr_schedule: tuple[float, ...],
        network: SandboxNetwork | None = None,
    ) -> None:  # fmt: skip
        super().__init__(spec, store_dir, emit)
        self.qr_schedule = qr_schedule
        self.network = network or SandboxNetwork()
        self._online: Account | None = None
        self._pairing: asyncio.Task[None] | None = None
        self._paired = asyncio.Event()
        self._pairing_phone = ""
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def auth_path(self) -> Path:
        return self.store_dir / AUTH_FILE

    def _device(self) -> dict[str, Any] | None:
        if not self.auth_path.exists():
            return None
        device: dict[str, Any] = json.loads(self.auth_path.read_text())["device"]
        return device

    def _account(self, device: dict[str, Any]) -> Account:
        return Account(phone=device["phone"], jid=device["jid"], push_name=device.get("push_name", ""))

    async def start(self) -> None:
        device = self._device()
        if device is not None:
            await self._go_online(self._account(device))
            return
        self._paired.clear()
        self._pairing = asyncio.create_task(self._qr_loop())

    async def _qr_loop(self) -> None:
        # Created for code pairing with its number: ask for the code at once, as neonize does, and show no QR codes.
        by_code = self.spec.pairing_method == "code" and bool(self.spec.pairing_phone)
        if by_code:
            await self.pair_phone(self.spec.pairing_phone)
        for ttl in self.qr_schedule:
            expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
            if not by_code:
                self.emit(QRCode(code=qr_payload(), expires_at=expires_at))
            try:
                await asyncio.wait_for(self._paired.wait(), timeout=ttl)
                return
            except TimeoutError:
                continue
        self.emit(StateChanged("failed", reason="qr_timeout: no scan before the QR codes ran out"))

    def _pairing_open(self) -> bool:
        return self._pairing is not None and not self._pairing.done()

    async def stop(self) -> None:
        self._cancel_pairing()
        for task in list(self._tasks):
            task.cancel()
        if self._online is not None:
            await self.network.leave(self._online.phone.lstrip("+"))
            self._online = None

    def _cancel_pairing(self) -> None:
        if self._pairing is not None:
            self._pairing.cancel()
            self._pairing = None

    async def logout(self) -> None:
        await self.stop()
        self.auth_path.unlink(missing_ok=True)

    async def pair_phone(self, phone: str) -> str:
        if not self._pairing_open():
            raise EngineError("not_pairing", "The session is not waiting to be paired.")
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
        code = f"{code[:4]}-{code[4:]}"
        self._pairing_phone = "+" + phone.lstrip("+")
        self.emit(PairingCode(code=code, phone=self._pairing_phone))
        return code

    def _pair(self, phone: str, push_name: str) -> Account:
        device = {
            "phone": phone,
            "jid": f"{phone.lstrip('+')}:{secrets.randbelow(90) + 10}@s.whatsapp.net",
            "push_name": push_name,
            "identity_key": _b64(32),
            "noise_key": _b64(32),
            "adv_secret": _b64(32),
            "registration_id": secrets.randbelow(16380) + 1,
            "paired_at": datetime.now(UTC).isoformat(),
        }
        self.store_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.auth_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 1, "device": device}))
        os.replace(tmp, self.auth_path)
        return self._account(device)

    async def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        if name == "scan":
            if not self._pairing_open():
                raise EngineError("not_pairing", "The session is not waiting to be paired.")
            phone = payload.get("phone") or self._pairing_phone or sandbox_phone()
            account = self._pair("+" + str(phone).lstrip("+"), str(payload.get("push_name") or "Sandbox User"))
            self._paired.set()
            self._cancel_pairing()
            self.emit(StoreChanged())
            await self._go_online(account)
            return {"phone": account.phone, "jid": account.jid}
        if name == "fault":
            return self._fault(str(payload.get("kind", "")))
        return await super().command(name, payload)

    def _fault(self, kind: str) -> dict[str, Any]:
        device = self._device()
        if kind == "disconnect" and device is not None:
            self.emit(StateChanged("reconnecting", reason="sandbox: connection dropped"))
            task = asyncio.create_task(self._reconnect(device))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif kind == "logout" and device is not None:
            self.auth_path.unlink(missing_ok=True)
            if self._online is not None:
                self.network.local.pop(self._online.phone.lstrip("+"), None)
                self._online = None
            self.emit(StateChanged("logged_out", reason="sandbox: the phone removed this linked device"))
        elif kind == "fail":
            self._cancel_pairing()
            self.emit(StateChanged("failed", reason="sandbox: injected failure"))
        else:
            raise EngineError("unknown_fault", "Faults: disconnect and logout (on a linked session), fail.")
        return {"fault": kind}

    async def _reconnect(self, device: dict[str, Any]) -> None:
        await asyncio.sleep(0.2)
        self.emit(StateChanged("connected", account=self._account(device)))

    # --- messaging between sandbox numbers ------------------------------------------------------------------------

    async def _go_online(self, account: Account) -> None:
        self._online = account
        await self.network.join(account.phone.lstrip("+"), self._receive)
        self.emit(StateChanged("connected", account=account))

    def _me(self) -> Account:
        if self._online is None:
            raise EngineError("not_connected", "The sandbox session is not connected.")
        return self._online

    async def send(self, message: dict[str, Any]) -> SentReceipt:
        me = self._me()
        wa_id = "3EB0" + secrets.token_hex(10).upper()
        now = datetime.now(UTC)
        to = str(message["to"])
        envelope: dict[str, Any] = {
            "kind": "message",
            "wa_id": wa_id,
            "from_jid": self._user_jid(me),
            "from_phone": me.phone,
            "push_name": me.push_name,
            "type": message["type"],
            "content": message.get("content") or {},
            "media": message.get("media"),
            "quoted": {"wa_id": (message.get("reply_to") or {}).get("wa_id", "")} if message.get("reply_to") else None,
            "target": {"wa_id": (message.get("target") or {}).get("wa_id", "")} if message.get("target") else None,
            "timestamp": now.isoformat(),
        }
        if to.endswith("@s.whatsapp.net"):
            await self.network.deliver(to.split("@")[0], envelope)
        # Groups and numbers that are offline: sent, and delivered never (as WhatsApp would hold it).
        return SentReceipt(wa_id=wa_id, timestamp=now)

    async def _receive(self, envelope: dict[str, Any]) -> None:
        kind = envelope.get("kind")
        if kind == "receipt":
            self.emit(GenericEvent("message.receipt", {k: envelope[k] for k in ("wa_ids", "type", "timestamp")}))
            return
        if kind == "presence":
            self.emit(GenericEvent("chat.presence", {"chat_jid": envelope["from_jid"], "state": envelope["state"]}))
            return
        if kind != "message":
            return
        media = None
        if envelope.get("media"):
            spec = envelope["media"]
            data = await media_store.read(spec["path"])
            stored = await media_store.store_inbound(
                self.spec.id, envelope["wa_id"], data, spec["mime"], spec["filename"]
            )
            media = stored.as_dict()
        self.emit(
            GenericEvent(
                "message.received",
                {
                    "wa_id": envelope["wa_id"],
                    "chat_jid": envelope["from_jid"],
                    "sender_jid": envelope["from_jid"],
                    "sender_phone": envelope["from_phone"],
                    "push_name": envelope.get("push_name", ""),
                    "type": envelope["type"],
                    "content": envelope.get("content") or {},
                    "media": media,
                    "quoted": envelope.get("quoted"),
                    "target": envelope.get("target"),
                    "timestamp": envelope["timestamp"],
                },
            )
        )
        await self._receipt(envelope["from_phone"], [envelope["wa_id"]], "delivered")

    async def _receipt(self, phone: str, wa_ids: list[str], kind: str) -> None:
        receipt = {"kind": "receipt", "wa_ids": wa_ids, "type": kind, "timestamp": datetime.now(UTC).isoformat()}
        await self.network.deliver(phone.lstrip("+"), receipt)

    async def mark_read(self, chat_jid: str, sender_jid: str, wa_ids: list[str]) -> None:
        self._me()
        await self._receipt(sender_jid.split("@")[0].split(":")[0], wa_ids, "read")

    async def check_numbers(self, phones: list[str]) -> list[dict[str, Any]]:
        self._me()
        results = []
        for phone in phones:
            digits = phone.lstrip("+")
            online = await self.network.is_online(digits)
            results.append(
                {"phone": f"+{digits}", "on_whatsapp": online, "jid": f"{digits}@s.whatsapp.net" if online else ""}
            )
        return results

    async def send_presence(self, to: str, state: str) -> None:
        me = self._me()
        if to.endswith("@s.whatsapp.net"):
            envelope = {"kind": "presence", "from_jid": self._user_jid(me), "state": state}
            await self.network.deliver(to.split("@")[0], envelope)

    @staticmethod
    def _user_jid(account: Account) -> str:
        """The account's user JID without the device part: what a chat with it is keyed by."""
        return account.phone.lstrip("+") + "@s.whatsapp.net"

    def store_files(self) -> list[Path]:
        return [self.auth_path] if self.auth_path.exists() else []

    def snapshot(self) -> bytes | None:
        return self.auth_path.read_bytes() if self.auth_path.exists() else None


class SandboxEngine(Engine):
    name = "sandbox"

    def __init__(
        self, qr_schedule: tuple[float, ...] = (60, 20, 20, 20, 20, 20), network: SandboxNetwork | None = None
    ) -> None:
        self.qr_schedule = qr_schedule
        self.network = network or SandboxNetwork()

    def open_session(self, spec: SessionSpec, store_dir: Path, emit: Emit) -> EngineSession:
        return SandboxSession(spec, store_dir, emit, self.qr_schedule, self.network)

    async def close(self) -> None:
        await self.network.close()

    @staticmethod
    def restore(store_dir: Path, snapshot: bytes) -> None:
        store_dir.mkdir(parents=True, exist_ok=True)
        (store_dir / AUTH_FILE).write_bytes(snapshot)
