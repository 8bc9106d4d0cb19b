"""Messages between two sandbox sessions on two worker processes, through the real gateway, Celery and Redis."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import pytest

from sessions_app.models import Message, WhatsAppSession
from tests.fixtures.platform import Platform

pytestmark = pytest.mark.e2e

A_PHONE, B_PHONE = "+15550100001", "+15550100002"
B_JID = "15550100002@s.whatsapp.net"
FAST = {"send_rate_per_minute": 600}

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(range(40))
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(48))
OGG = b"OggS\x00\x02" + bytes(range(58))
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def two_sessions(platform: Platform) -> tuple[str, str]:
    platform.start_worker("w1", WORKER_CAPACITY="1")
    platform.start_worker("w2", WORKER_CAPACITY="1")
    a = platform.link("A", A_PHONE, **FAST)
    b = platform.link("B", B_PHONE, **FAST)
    workers = {WhatsAppSession.objects.get(pk=a).worker_id, WhatsAppSession.objects.get(pk=b).worker_id}
    assert len(workers) == 2, "A and B must live on different worker processes"
    return a, b


def inbound(platform: Platform, session: str, count: int) -> list[dict[str, Any]]:
    body = platform.wait_for(
        f"/sessions/{session}/messages?direction=in&page_size=200", lambda r: len(r["results"]) >= count, timeout=40
    )
    return list(reversed(body["results"]))  # oldest first


def test_every_message_type_travels_from_a_to_b_and_statuses_reach_read(platform: Platform) -> None:
    a, b = two_sessions(platform)
    send = lambda body: platform.api.post(f"/sessions/{a}/messages", json={"to": B_PHONE, **body})  # noqa: E731

    outgoing = [
        {"type": "text", "text": "hello B", "mentions": [B_PHONE]},
        {"type": "image", "media": {"base64": b64(PNG), "filename": "pic.png"}, "caption": "a picture"},
        {"type": "video", "media": {"base64": b64(MP4), "mime_type": "video/mp4"}, "caption": "a clip"},
        {"type": "audio", "media": {"base64": b64(OGG), "mime_type": "audio/ogg"}},
        {"type": "voice", "media": {"base64": b64(OGG)}},
        {"type": "document", "media": {"base64": b64(PDF), "filename": "terms.pdf"}, "caption": "terms"},
        {"type": "sticker", "media": {"base64": b64(WEBP)}},
        {"type": "location", "location": {"latitude": 52.52, "longitude": 13.405, "name": "Berlin"}},
        {"type": "contact", "contact": {"name": "Ada", "phone": "+4915112345678"}},
    ]
    sent = []
    for body in outgoing:
        response = send(body)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "queued"
        sent.append(response.json())
    first = sent[0]["id"]
    for body in (
        {"type": "text", "text": "replying to myself", "reply_to": first},
        {"type": "reaction", "reaction": {"message_id": first, "emoji": "👍"}},
        {"type": "edit", "target": first, "text": "hello B (edited)"},
        {"type": "delete", "target": sent[-1]["id"]},
    ):
        response = send(body)
        assert response.status_code == 202, response.text
        sent.append(response.json())

    received = inbound(platform, b, 13)  # reactions, edits and deletes update their target and are stored too
    by_type: dict[str, list[dict[str, Any]]] = {}
    for message in received:
        by_type.setdefault(message["type"], []).append(message)
    assert by_type["text"][0]["content"]["text"] == "hello B (edited)"
    assert by_type["text"][0]["content"]["mentions"] == [B_JID]
    assert by_type["text"][0]["reactions"] == {"15550100001@s.whatsapp.net": "👍"}
    assert by_type["text"][0]["sender"]["phone"] == A_PHONE
    assert by_type["text"][1]["reply_to"] == by_type["text"][0]["id"]
    assert by_type["location"][0]["content"]["location"]["name"] == "Berlin"
    assert by_type["contact"][0]["content"]["contact"]["phone"] == "+4915112345678"
    assert by_type["contact"][0]["revoked_at"] is not None
    for kind, data in [
        ("image", PNG),
        ("video", MP4),
        ("audio", OGG),
        ("voice", OGG),
        ("document", PDF),
        ("sticker", WEBP),
    ]:
        message = by_type[kind][0]
        media = platform.api.get(f"/messages/{message['id']}/media")
        assert media.status_code == 200, (kind, media.text)
        assert media.content == data, kind
    assert by_type["image"][0]["content"]["caption"] == "a picture"
    assert by_type["document"][0]["media"]["filename"] == "terms.pdf"

    # B reads everything; A's messages reach "read"
    ids = [m["id"] for m in received]
    assert platform.api.post(f"/sessions/{b}/messages/read", json={"message_ids": ids}).status_code == 200
    for message in sent[:9]:
        platform.wait_for(f"/messages/{message['id']}", lambda m: m["status"] == "read", timeout=20)
    # A's own copy shows what A did to it, keyed by A's user JID (not its device JID)
    own = platform.api.get(f"/messages/{first}").json()
    assert own["reactions"] == {"15550100001@s.whatsapp.net": "👍"}
    assert own["content"]["text"] == "hello B (edited)"

    chats_a = platform.api.get(f"/sessions/{a}/chats").json()["results"]
    chats_b = platform.api.get(f"/sessions/{b}/chats").json()["results"]
    assert [c["chat_jid"] for c in chats_a] == [B_JID]
    assert [c["chat_jid"] for c in chats_b] == ["15550100001@s.whatsapp.net"]
    assert chats_b[0]["unread"] == 0
    history = platform.api.get(f"/sessions/{a}/messages?chat={B_JID}&page_size=200").json()["results"]
    assert len(history) == len(sent)


def test_messages_queued_while_the_worker_is_down_go_out_once_in_order(platform: Platform) -> None:
    a, b = two_sessions(platform)
    platform.stop_worker(next(n for n in platform.workers if _hosts(platform, n, a)))
    platform.wait_for(f"/sessions/{a}", lambda s: s["state"] == "pending")
    texts = [f"queued message {i:02d}" for i in range(20)]
    for text in texts:
        response = platform.api.post(f"/sessions/{a}/messages", json={"to": B_PHONE, "text": text})
        assert response.status_code == 202
        assert response.json()["status"] == "queued"
    time.sleep(1)
    assert Message.objects.filter(session_id=uuid.UUID(a), status="queued").count() == 20

    platform.start_worker("w3", WORKER_CAPACITY="1")
    received = inbound(platform, b, 20)
    assert [m["content"]["text"] for m in received] == texts
    assert Message.objects.filter(session_id=uuid.UUID(b), direction="in").count() == 20
    platform.wait_for(
        f"/sessions/{a}/messages?direction=out&page_size=50",
        lambda r: all(m["status"] in ("sent", "delivered") for m in r["results"]),
    )
    wa_ids = list(Message.objects.filter(session_id=uuid.UUID(a)).values_list("wa_id", flat=True))
    assert len(set(wa_ids)) == 20  # each sent once


def _hosts(platform: Platform, name: str, session_id: str) -> bool:
    session = WhatsAppSession.objects.select_related("worker").get(pk=session_id)
    return session.worker is not None and session.worker.name == name


def test_messages_arriving_while_the_gateway_is_down_are_stored_once(platform: Platform) -> None:
    a, b = two_sessions(platform)

    def while_down() -> None:
        # The worker of A sends straight to B's worker; B's events wait in its spool for the gateway.
        for i in range(10):
            from workers_app.client import call_worker

            session = WhatsAppSession.objects.select_related("worker").get(pk=a)
            assert session.worker is not None
            message = {"id": str(uuid.uuid4()), "type": "text", "to": B_JID, "to_phone": B_PHONE,
                       "content": {"text": f"while down {i}"}, "media": None, "reply_to": None, "target": None,
                       "expires_at": None}  # fmt: skip
            body = {"epoch": session.epoch, "rate_per_minute": 600, "messages": [message]}
            call_worker(session.worker, f"/sessions/{a}/outbox", body)
        time.sleep(3)

    platform.restart_gateway(down_for=while_down)
    received = inbound(platform, b, 10)
    assert sorted(m["content"]["text"] for m in received) == [f"while down {i}" for i in range(10)]
    time.sleep(2)  # any duplicate retry would have landed by now
    assert Message.objects.filter(session_id=uuid.UUID(b), direction="in").count() == 10


def test_the_same_idempotency_key_sends_one_message(platform: Platform) -> None:
    a, _ = two_sessions(platform)
    headers = {"Idempotency-Key": "order-1234"}
    body = {"to": B_PHONE, "text": "your order shipped"}
    first = platform.api.post(f"/sessions/{a}/messages", json=body, headers=headers)
    second = platform.api.post(f"/sessions/{a}/messages", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    other = platform.api.post(f"/sessions/{a}/messages", json={**body, "text": "changed"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Message.objects.filter(session_id=uuid.UUID(a)).count() == 1
