"""Received messages' media on the neonize engine (downloaded in a call thread, stored, reported in order), and the
pieces messaging relies on: media durations without ffmpeg, SSRF-safe link previews, the quote cache."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from worker_node import media as media_store
from worker_node.engines.base import GenericEvent
from worker_node.engines.neonize import mediameta, outgoing, preview
from worker_node.tests.test_neonize_messaging import MessagingClient, image_bytes, mp4, ogg_opus, run
from worker_node.tests.test_neonize_session import Harness

# --- received media --------------------------------------------------------------------------------------------------


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, bytes, str, str]]:
    """store_inbound, recording what it was given."""
    calls: list[tuple[str, str, bytes, str, str]] = []

    async def store_inbound(session_id: str, wa_id: str, data: bytes, mime: str, filename: str) -> Any:
        calls.append((session_id, wa_id, data, mime, filename))
        path = f"inbound/{session_id}/{wa_id}/{filename}"
        return media_store.StoredMedia(path, mime, filename, len(data), hashlib.sha256(data).hexdigest())

    monkeypatch.setattr(media_store, "store_inbound", store_inbound)
    return calls


def incoming(wa_id: str, message: Any, *, from_me: bool = False) -> Any:
    from neonize.events import MessageEv
    from neonize.proto.Neonize_pb2 import JID, MessageInfo, MessageSource

    bob = JID(User="15550002222", Server="s.whatsapp.net")
    me = JID(User="15550001111", Server="s.whatsapp.net")
    source = MessageSource(Chat=bob, Sender=me if from_me else bob, IsFromMe=from_me)
    return MessageEv(Info=MessageInfo(ID=wa_id, Timestamp=1700000000123, MessageSource=source), Message=message)


def received(harness: Harness) -> list[GenericEvent]:
    return [e for e in harness.events if isinstance(e, GenericEvent) and e.type == "message.received"]


def test_received_media_is_downloaded_stored_and_reported_in_order(tmp_path, kept):
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import DocumentMessage, Message

    document = DocumentMessage(
        directPath="/v/t62/doc.enc", mimetype="application/pdf", fileLength=16, fileName="../../etc/passwd", caption="c"
    )

    async def scenario(harness: Harness, client: MessagingClient) -> list[GenericEvent]:
        client.download_delay = 0.2
        await harness.from_go(client.fire, incoming("3EB0DOC", Message(documentMessage=document)))
        await harness.from_go(client.fire, incoming("3EB0TXT", Message(conversation="and a text")))
        await harness.until(lambda: len(received(harness)) == 2)
        [(_, downloaded)] = [call for call in client.calls if call[0] == "download_any"]
        assert downloaded.documentMessage.directPath == "/v/t62/doc.enc"
        return received(harness)

    doc, text = run(tmp_path, scenario)

    assert kept == [("s-fake", "3EB0DOC", b"downloaded bytes", "application/pdf", "passwd")]
    assert (doc.data["wa_id"], text.data["wa_id"]) == ("3EB0DOC", "3EB0TXT")  # the text waited for the document
    assert (doc.data["type"], doc.data["content"]) == ("document", {"caption": "c"})
    assert doc.data["media"] == {
        "path": "inbound/s-fake/3EB0DOC/passwd",
        "mime": "application/pdf",
        "filename": "passwd",
        "size": 16,
        "sha256": hashlib.sha256(b"downloaded bytes").hexdigest(),
    }
    assert text.data["media"] is None


def test_media_the_account_sent_from_its_phone_is_downloaded_too(tmp_path, kept):
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ImageMessage, Message

    image = ImageMessage(directPath="/v/t62/img.enc", mimetype="image/jpeg", fileLength=16, caption="from the phone")

    async def scenario(harness: Harness, client: MessagingClient) -> list[GenericEvent]:
        await harness.from_go(client.fire, incoming("3A5FIMG", Message(imageMessage=image), from_me=True))
        await harness.until(lambda: any(getattr(e, "type", "") == "message.own_device" for e in harness.events))
        return [e for e in harness.events if isinstance(e, GenericEvent) and e.type == "message.own_device"]

    [own] = run(tmp_path, scenario)

    assert [call[1] for call in kept] == ["3A5FIMG"]
    assert own.data["media"]["mime"] == "image/jpeg"
    assert own.data["media"]["path"].startswith("inbound/s-fake/3A5FIMG/")
    assert own.data["sender_jid"] == "15550001111@s.whatsapp.net"


def test_received_media_over_the_limit_is_reported_not_downloaded(tmp_path, kept):
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ImageMessage, Message

    image = ImageMessage(directPath="/v/t62/img.enc", mimetype="image/jpeg", fileLength=5000)

    async def scenario(harness: Harness, client: MessagingClient) -> GenericEvent:
        await harness.from_go(client.fire, incoming("3EB0BIG", Message(imageMessage=image)))
        await harness.until(lambda: len(received(harness)) == 1)
        assert not [call for call in client.calls if call[0] == "download_any"]
        return received(harness)[0]

    event = run(tmp_path, scenario, media_max_bytes=1000)

    assert event.data["media"] is None
    assert event.data["media_error"] == "too_large: 5000 bytes; the limit is 1000"
    assert kept == []


def test_a_failed_download_still_reports_the_message(tmp_path, kept):
    from neonize.exc import DownloadError
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import AudioMessage, Message

    voice = AudioMessage(directPath="/v/t62/ptt.enc", mimetype="audio/ogg; codecs=opus", PTT=True, fileLength=9)

    async def scenario(harness: Harness, client: MessagingClient) -> GenericEvent:
        def fail(message: Any) -> bytes:
            raise DownloadError("failed to download: 404")

        client.download_any = fail  # type: ignore[method-assign]
        await harness.from_go(client.fire, incoming("3EB0PTT", Message(audioMessage=voice)))
        await harness.until(lambda: len(received(harness)) == 1)
        return received(harness)[0]

    event = run(tmp_path, scenario)

    assert (event.data["type"], event.data["media"]) == ("voice", None)
    assert event.data["media_error"].startswith("download_failed: ")


# --- pieces ----------------------------------------------------------------------------------------------------------


def test_media_durations_are_read_from_the_containers():
    assert mediameta.seconds(ogg_opus(seconds=42)) == 42
    assert mediameta.seconds(mp4(seconds=95, timescale=600)) == 95
    assert mediameta.seconds(b"ID3 not a container") is None
    assert mediameta.jpeg_thumbnail(b"not an image") is None


def test_link_previews_go_through_netguard_and_keep_a_small_thumbnail():
    from worker_node.contract import netguard

    page = b'<html><head><title>Shop</title><meta property="og:image" content="/logo.png">'
    page += b'<meta name="description" content="Best shop"></head></html>'
    asked: list[dict[str, Any]] = []

    def fetch(method: str, url: str, **kwargs: Any) -> netguard.Fetched:
        asked.append({"url": url, **kwargs})
        if url.endswith("/logo.png"):
            return netguard.Fetched(200, {"content-type": "image/png"}, image_bytes(size=(1200, 600)))
        return netguard.Fetched(200, {"content-type": "text/html; charset=utf-8"}, page)

    found = preview.link_preview("see https://shop.example/offer.", fetch=fetch)
    assert found is not None

    assert (found.matchedText, found.title, found.description) == ("https://shop.example/offer", "Shop", "Best shop")
    assert found.JPEGThumbnail.startswith(b"\xff\xd8")
    assert (found.thumbnailWidth, found.thumbnailHeight) == (1200, 600)
    assert [(a["url"], a["allow_private"], a["truncate"]) for a in asked] == [
        ("https://shop.example/offer", False, True),
        ("https://shop.example/logo.png", False, False),
    ]


def test_a_link_preview_that_netguard_refuses_is_no_preview():
    from worker_node.contract import netguard

    def fetch(method: str, url: str, **kwargs: Any) -> netguard.Fetched:
        raise netguard.ForbiddenTarget("url_forbidden_address", "169.254.169.254 is not a public address.")

    assert preview.link_preview("http://169.254.169.254/latest/meta-data", fetch=fetch) is None
    assert preview.link_preview("no link here", fetch=fetch) is None


def test_the_quote_cache_keeps_recent_messages_without_thumbnails():
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ImageMessage, Message

    cache = outgoing.QuoteCache(size=2)
    cache.put("a", Message(imageMessage=ImageMessage(caption="one", JPEGThumbnail=b"\xff" * 5000)))
    cache.put("b", Message(conversation="two"))
    cache.put("c", Message(conversation="three"))
    cache.put("d", Message(imageMessage=ImageMessage(caption="four", JPEGThumbnail=b"\xff" * 5000)))

    assert (cache.get("a"), cache.get("b")) == (None, None)
    three, four = cache.get("c"), cache.get("d")
    assert three is not None
    assert four is not None
    assert three.conversation == "three"
    assert four.imageMessage.caption == "four"
    assert not four.imageMessage.JPEGThumbnail
