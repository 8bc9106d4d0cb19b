"""Messaging between sandbox numbers on one worker (one SandboxNetwork, no Redis): what one sends the other receives,
with delivered and read receipts back, presence, number checks, and media copied under the receiving session."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import override_settings

from worker_node.engines.base import EngineError, EngineEvent, GenericEvent, SessionSpec
from worker_node.engines.sandbox import SandboxEngine, SandboxSession
from worker_node.engines.sandbox_network import SandboxNetwork

A_PHONE, B_PHONE = "+15550100001", "+15550100002"
A_JID, B_JID = "15550100001@s.whatsapp.net", "15550100002@s.whatsapp.net"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def auth_file(phone: str) -> bytes:
    digits = phone.lstrip("+")
    device = {"phone": phone, "jid": f"{digits}:12@s.whatsapp.net", "push_name": f"User {digits[-1]}"}
    return json.dumps({"version": 1, "device": device}).encode()


class Number:
    """A linked sandbox session and what it emitted."""

    def __init__(self, engine: SandboxEngine, tmp_path: Path, phone: str) -> None:
        self.spec = SessionSpec(id=str(uuid.uuid4()), epoch=1, engine="sandbox")
        store = tmp_path / self.spec.id
        SandboxEngine.restore(store, auth_file(phone))
        self.events: list[EngineEvent] = []
        session = engine.open_session(self.spec, store, self.events.append)
        assert isinstance(session, SandboxSession)
        self.session = session

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if isinstance(e, GenericEvent) and e.type == kind]


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.network = SandboxNetwork()  # no Redis: numbers of this worker only
        self.engine = SandboxEngine(network=self.network)
        self.a = Number(self.engine, tmp_path, A_PHONE)
        self.b = Number(self.engine, tmp_path, B_PHONE)

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out; A: {self.a.events}, B: {self.b.events}"
            await asyncio.sleep(0.01)


def run(tmp_path: Path, scenario: Callable[[World], Coroutine[Any, Any, None]], *, start: bool = True) -> World:
    world = World(tmp_path)

    async def main() -> None:
        if start:
            await world.a.session.start()
            await world.b.session.start()
        try:
            await scenario(world)
        finally:
            await world.engine.close()

    asyncio.run(main())
    return world


def text(body: str, to: str = B_JID, **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": "text", "to": to, "content": {"text": body}, **extra}


@pytest.fixture
def object_store(tmp_path: Path) -> Iterator[Any]:
    backend = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "objects"}}
    with override_settings(STORAGES={"default": backend}):
        yield storages["default"]


def test_a_message_reaches_the_other_number_and_a_delivered_receipt_comes_back(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        receipt = await w.a.session.send(text("hello B"))
        await w.until(lambda: bool(w.a.of("message.receipt")))

        [received] = w.b.of("message.received")
        assert received["wa_id"] == receipt.wa_id
        assert (received["chat_jid"], received["sender_jid"], received["sender_phone"]) == (A_JID, A_JID, A_PHONE)
        assert (received["type"], received["content"]) == ("text", {"text": "hello B"})
        assert w.a.of("message.receipt") == [
            {"wa_ids": [receipt.wa_id], "type": "delivered", "timestamp": w.a.of("message.receipt")[0]["timestamp"]}
        ]
        assert w.a.of("message.received") == []  # a message is not echoed to its sender

    run(tmp_path, scenario)


def test_marking_read_sends_a_read_receipt_to_the_sender(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        receipt = await w.a.session.send(text("read me"))
        await w.until(lambda: bool(w.b.of("message.received")))
        received = w.b.of("message.received")[0]

        await w.b.session.mark_read(received["chat_jid"], received["sender_jid"], [received["wa_id"]])
        await w.until(lambda: len(w.a.of("message.receipt")) == 2)

        assert [(r["type"], r["wa_ids"]) for r in w.a.of("message.receipt")] == [
            ("delivered", [receipt.wa_id]),
            ("read", [receipt.wa_id]),
        ]
        assert w.b.of("message.receipt") == []

    run(tmp_path, scenario)


def test_each_send_gets_its_own_whatsapp_id_and_arrives_in_order(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        receipts = [await w.a.session.send(text(f"m{n}")) for n in range(5)]
        await w.until(lambda: len(w.b.of("message.received")) == 5)

        assert len({r.wa_id for r in receipts}) == 5
        assert [m["content"]["text"] for m in w.b.of("message.received")] == [f"m{n}" for n in range(5)]
        assert [m["wa_id"] for m in w.b.of("message.received")] == [r.wa_id for r in receipts]

    run(tmp_path, scenario)


def test_quoted_and_target_messages_travel_by_whatsapp_id(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        first = await w.a.session.send(text("first"))
        await w.a.session.send(text("re", reply_to={"message_id": "x", "wa_id": first.wa_id}))
        reaction = {"id": str(uuid.uuid4()), "type": "reaction", "to": B_JID, "content": {"emoji": "👍"},
                    "target": {"message_id": "x", "wa_id": first.wa_id}}  # fmt: skip
        await w.a.session.send(reaction)
        await w.until(lambda: len(w.b.of("message.received")) == 3)

        _, reply, reacted = w.b.of("message.received")
        assert reply["quoted"] == {"wa_id": first.wa_id}
        assert (reacted["type"], reacted["target"], reacted["content"]) == (
            "reaction", {"wa_id": first.wa_id}, {"emoji": "👍"},
        )  # fmt: skip

    run(tmp_path, scenario)


def test_media_is_copied_under_the_receiving_session(tmp_path: Path, object_store: Any) -> None:
    async def scenario(w: World) -> None:
        path = object_store.save(f"media/{w.a.spec.id}/m1/pic.png", ContentFile(PNG))
        media = {"path": path, "mime": "image/png", "filename": "pic.png", "size": len(PNG),
                 "sha256": hashlib.sha256(PNG).hexdigest()}  # fmt: skip
        receipt = await w.a.session.send(
            {"id": str(uuid.uuid4()), "type": "image", "to": B_JID, "content": {"caption": "c"}, "media": media}
        )
        await w.until(lambda: bool(w.b.of("message.received")))

        got = w.b.of("message.received")[0]["media"]
        assert got["path"].startswith(f"inbound/{w.b.spec.id}/{receipt.wa_id}/")
        assert got["path"] != path
        with object_store.open(got["path"], "rb") as handle:
            assert handle.read() == PNG
        assert (got["mime"], got["filename"], got["size"]) == ("image/png", "pic.png", len(PNG))
        assert got["sha256"] == hashlib.sha256(PNG).hexdigest()

    run(tmp_path, scenario)


def test_a_message_to_a_number_that_is_offline_is_sent_but_never_delivered(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        receipt = await w.a.session.send(text("anyone?", to="15550100099@s.whatsapp.net"))
        await asyncio.sleep(0.1)

        assert receipt.wa_id
        assert w.a.of("message.receipt") == []
        assert w.b.of("message.received") == []

    run(tmp_path, scenario)


def test_a_stopped_number_receives_nothing(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.b.session.stop()
        await w.a.session.send(text("hello?"))
        await asyncio.sleep(0.1)

        assert w.b.of("message.received") == []
        assert w.a.of("message.receipt") == []

    run(tmp_path, scenario)


def test_a_session_that_is_not_connected_cannot_send(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        with pytest.raises(EngineError) as refused:
            await w.a.session.send(text("too early"))
        assert refused.value.code == "not_connected"

    run(tmp_path, scenario, start=False)


def test_number_checks_see_the_numbers_online(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        results = await w.a.session.check_numbers(["15550100002", "+15550100099"])

        assert results == [
            {"phone": B_PHONE, "on_whatsapp": True, "jid": B_JID},
            {"phone": "+15550100099", "on_whatsapp": False, "jid": ""},
        ]

    run(tmp_path, scenario)


def test_typing_presence_reaches_the_other_number(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.a.session.send_presence(B_JID, "composing")
        await w.until(lambda: bool(w.b.of("chat.presence")))

        assert w.b.of("chat.presence") == [{"chat_jid": A_JID, "state": "composing"}]

    run(tmp_path, scenario)
