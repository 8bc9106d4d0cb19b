"""The session host's send loop: queued messages go out in order, paced, each at most once; expired ones fail; it
waits while the session is not connected; a message a crash left "sending" is reported failed, never sent again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from worker_node.engines.base import EngineError
from worker_node.outbox import Outbox
from worker_node.tests.memory_snapshots import MemorySnapshots
from worker_node.tests.test_host import World, auth_file, new_id, run, spec

A_PHONE, B_PHONE = "+15550100001", "+15550100002"
B_JID = "15550100002@s.whatsapp.net"
FAST = 600  # messages a minute: the burst of three and then 0.1 s apart


def text(body: str, **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": "text", "to": B_JID, "content": {"text": body}, **extra}


def of(w: World, session_id: str, kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in w.events(session_id) if e["type"] == kind]


def sent_ids(w: World, session_id: str) -> list[str]:
    return [data["message_id"] for data in of(w, session_id, "message.sent")]


async def connected(w: World, session_id: str) -> None:
    await w.host.ensure(spec(session_id))
    await w.until(lambda: ("session.state", "connected") in w.kinds(session_id))


def test_queued_messages_are_sent_in_order_and_each_once(tmp_path: Path) -> None:
    sid = new_id()
    messages = [text(f"m{n}") for n in range(5)]

    async def scenario(w: World) -> None:
        await connected(w, sid)
        w.host.enqueue(sid, 1, messages[:3], FAST)
        w.host.enqueue(sid, 1, messages[3:], FAST)
        await w.until(lambda: len(sent_ids(w, sid)) == 5)

        w.host.enqueue(sid, 1, messages, FAST)  # offered again, e.g. by the sweep
        await w.until(lambda: w.host.outbox.next_queued(sid) is None)
        await asyncio.sleep(0.3)

    w = run(tmp_path, scenario, snapshots=MemorySnapshots({sid: auth_file(A_PHONE)}))

    assert sent_ids(w, sid) == [m["id"] for m in messages]
    wa_ids = [data["wa_id"] for data in of(w, sid, "message.sent")]
    assert len(set(wa_ids)) == 5
    assert [w.host.outbox.wa_id(m["id"]) for m in messages] == wa_ids


def test_an_expired_message_fails_as_expired_and_is_not_sent(tmp_path: Path) -> None:
    sid = new_id()
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    expired, fresh = text("too late", expires_at=past), text("on time", expires_at=future)

    async def scenario(w: World) -> None:
        await connected(w, sid)
        w.host.enqueue(sid, 1, [expired, fresh], FAST)
        await w.until(lambda: bool(sent_ids(w, sid)))

    w = run(tmp_path, scenario, snapshots=MemorySnapshots({sid: auth_file(A_PHONE)}))

    assert of(w, sid, "message.failed") == [{"message_id": expired["id"], "reason": "expired"}]
    assert sent_ids(w, sid) == [fresh["id"]]


def test_nothing_is_sent_until_the_session_connects(tmp_path: Path) -> None:
    sid = new_id()
    message = text("wait for me")

    async def scenario(w: World) -> None:
        await w.host.ensure(spec(sid))
        await w.until(lambda: ("session.qr", None) in w.kinds(sid))
        w.host.enqueue(sid, 1, [message], FAST)
        await asyncio.sleep(0.3)
        assert sent_ids(w, sid) == []
        assert w.host.outbox.next_queued(sid) == message

        hosted = w.host.get(sid)
        assert hosted is not None
        await hosted.session.command("scan", {"phone": A_PHONE})
        await w.until(lambda: bool(sent_ids(w, sid)))

    w = run(tmp_path, scenario)

    kinds = [e["type"] if e["type"] != "session.state" else e["data"]["state"] for e in w.events(sid)]
    assert kinds.index("message.sent") > kinds.index("connected")
    assert sent_ids(w, sid) == [message["id"]]


def test_sending_pauses_while_the_session_reconnects(tmp_path: Path) -> None:
    sid = new_id()
    message = text("after the reconnect")

    async def scenario(w: World) -> None:
        await connected(w, sid)
        hosted = w.host.get(sid)
        assert hosted is not None
        await hosted.session.command("fault", {"kind": "disconnect"})  # reconnects 0.2 s later
        await w.until(lambda: ("session.state", "reconnecting") in w.kinds(sid))
        w.host.enqueue(sid, 1, [message], FAST)
        await w.until(lambda: bool(sent_ids(w, sid)))

    w = run(tmp_path, scenario, snapshots=MemorySnapshots({sid: auth_file(A_PHONE)}))

    states = [e["type"] if e["type"] != "session.state" else e["data"]["state"] for e in w.events(sid)]
    assert states.index("message.sent") > states.index("reconnecting")
    assert states.index("message.sent") > max(i for i, s in enumerate(states) if s == "connected")


def test_messages_are_paced_at_the_sessions_rate(tmp_path: Path) -> None:
    sid = new_id()
    messages = [text(f"m{n}") for n in range(3)]

    async def scenario(w: World) -> None:
        await connected(w, sid)
        w.host.enqueue(sid, 1, messages, 1)  # one a minute, a burst of one
        await w.until(lambda: len(sent_ids(w, sid)) == 1)
        await asyncio.sleep(0.5)

    w = run(tmp_path, scenario, snapshots=MemorySnapshots({sid: auth_file(A_PHONE)}))

    assert sent_ids(w, sid) == [messages[0]["id"]]
    assert w.host.outbox.next_queued(sid) == messages[1]


def test_a_message_left_sending_by_a_crash_is_reported_failed_and_not_sent(tmp_path: Path) -> None:
    sid = new_id()
    crashed, waiting = text("half sent"), text("still queued")
    before = Outbox(tmp_path / "data" / "outbox.sqlite3")  # what the previous run of the worker left behind
    before.enqueue(sid, [crashed, waiting])
    before.mark(crashed["id"], "sending")
    before.close()

    async def scenario(w: World) -> None:
        await connected(w, sid)
        await w.until(lambda: bool(sent_ids(w, sid)))

    w = run(tmp_path, scenario, snapshots=MemorySnapshots({sid: auth_file(A_PHONE)}))

    assert of(w, sid, "message.failed") == [{"message_id": crashed["id"], "reason": "send_interrupted"}]
    assert sent_ids(w, sid) == [waiting["id"]]
    assert w.host.outbox.interrupted() == []


def test_a_reply_to_a_message_sent_from_the_outbox_quotes_its_whatsapp_id(tmp_path: Path) -> None:
    a, b = new_id(), new_id()
    first = text("first")
    reply = text("re", reply_to={"message_id": first["id"], "wa_id": ""})  # queued before first had a wa id

    async def scenario(w: World) -> None:
        await connected(w, a)
        await connected(w, b)
        w.host.enqueue(a, 1, [first, reply], FAST)
        await w.until(lambda: len(of(w, b, "message.received")) == 2)

    w = run(tmp_path, scenario, snapshots=MemorySnapshots({a: auth_file(A_PHONE), b: auth_file(B_PHONE)}))

    first_wa_id = of(w, a, "message.sent")[0]["wa_id"]
    assert of(w, b, "message.received")[1]["quoted"] == {"wa_id": first_wa_id}


def test_messages_for_another_epoch_are_refused(tmp_path: Path) -> None:
    sid = new_id()

    async def scenario(w: World) -> None:
        await connected(w, sid)
        with pytest.raises(EngineError) as refused:
            w.host.enqueue(sid, 2, [text("from a stale gateway view")], FAST)
        assert refused.value.code == "not_running"
        with pytest.raises(EngineError):
            w.host.enqueue(new_id(), 1, [text("for a session not here")], FAST)

    w = run(tmp_path, scenario, snapshots=MemorySnapshots({sid: auth_file(A_PHONE)}))

    assert w.host.outbox.next_queued(sid) is None
