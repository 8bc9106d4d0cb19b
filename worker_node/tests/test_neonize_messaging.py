"""Messaging on the neonize engine, through a fake client: the protobufs each message type becomes, failures and
their codes, read receipts, number checks, presence, and received media downloaded and stored.

The fake records Go calls and answers like neonize (``SendResponse``, ``UploadResponse``, …); neonize's own document
and sticker builders run against it, so their real protobufs are inspected.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import time
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from worker_node import media as media_store
from worker_node.engines.base import EngineError, SentReceipt
from worker_node.engines.neonize import preview
from worker_node.engines.neonize.runtime import GO_LOCK
from worker_node.tests.test_neonize_session import FakeClient, Harness, config

BOB = "15550002222@s.whatsapp.net"
ME = "15550001111@s.whatsapp.net"
GROUP = "120363025246125486@g.us"


class MessagingClient(FakeClient):
    def __init__(self, store_path: str, uuid: str, connect_error: str | None = None) -> None:
        super().__init__(store_path, uuid, connect_error)
        from neonize.client import NewClient

        for name in ("build_document_message", "build_sticker_message", "_parse_mention", "_parse_group_mention"):
            setattr(self, name, types.MethodType(getattr(NewClient, name), self))
        self.calls: list[tuple[str, Any]] = []
        self.send_error: Exception | None = None
        self.upload_error: Exception | None = None
        self.send_gate: threading.Event | None = None  # set: send_message waits for it
        self.media = b"downloaded bytes"
        self.download_delay = 0.0
        self.registered = {"15550002222"}

    def send_message(self, to: Any, message: Any) -> Any:
        from neonize.proto.Neonize_pb2 import SendResponse

        self.calls.append(("send_message", (to, message)))
        if self.send_gate is not None:
            self.send_gate.wait(5)
        if self.send_error is not None:
            raise self.send_error
        return SendResponse(ID=f"3EB0{len(self.calls):016X}", Timestamp=1700000000, Message=message)

    def upload(self, binary: bytes, media_type: Any = None) -> Any:
        from neonize.proto.Neonize_pb2 import UploadResponse

        self.calls.append(("upload", (len(binary), media_type)))
        if self.upload_error is not None:
            raise self.upload_error
        return UploadResponse(
            url="https://mmg.whatsapp.net/v/t62.7118-24/1.enc",
            DirectPath="/v/t62.7118-24/1.enc",
            MediaKey=b"k" * 32,
            FileEncSHA256=b"e" * 32,
            FileSHA256=hashlib.sha256(binary).digest(),
            FileLength=len(binary),
        )

    def download_any(self, message: Any) -> Any:
        self.calls.append(("download_any", message))
        time.sleep(self.download_delay)
        return self.media

    def mark_read(self, *message_ids: str, chat: Any, sender: Any, receipt: Any) -> None:
        self.calls.append(("mark_read", (message_ids, chat, sender, receipt)))

    def is_on_whatsapp(self, *numbers: str) -> Any:
        from neonize.proto.Neonize_pb2 import JID, IsOnWhatsAppResponse

        self.calls.append(("is_on_whatsapp", numbers))
        return [
            IsOnWhatsAppResponse(
                Query=number, IsIn=number[1:] in self.registered, JID=JID(User=number[1:], Server="s.whatsapp.net")
            )
            for number in numbers
        ]

    def send_chat_presence(self, jid: Any, state: Any, media: Any) -> None:
        self.calls.append(("send_chat_presence", (jid, state, media)))

    def sent(self) -> list[tuple[Any, Any]]:
        return [args for name, args in self.calls if name == "send_message"]


async def online(tmp_path: Path, **overrides: Any) -> tuple[Harness, MessagingClient]:
    from neonize.events import ConnectedEv
    from neonize.proto.Neonize_pb2 import JID, Device

    harness = Harness(tmp_path, config(**overrides), client_class=MessagingClient)
    client = await harness.start_and_connect()
    assert isinstance(client, MessagingClient)
    client.me = Device(JID=JID(User="15550001111", Server="s.whatsapp.net", Device=3), PushName="Shop")
    await harness.from_go(client.fire, ConnectedEv(status=True))
    await harness.until(lambda: ("connected", "") in harness.states())
    return harness, client


def run(tmp_path: Path, scenario: Callable[[Harness, MessagingClient], Awaitable[Any]], **overrides: Any) -> Any:
    async def main() -> Any:
        harness, client = await online(tmp_path, **overrides)
        try:
            return await scenario(harness, client)
        finally:
            await harness.session.stop()
            await harness.engine.close()

    return asyncio.run(main())


def payload(kind: str = "text", **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"id": "msg-1", "type": kind, "to": BOB, "to_phone": "+15550002222", "content": {},
                               "media": None, "reply_to": None, "target": None, "expires_at": None}  # fmt: skip
    message.update(fields)
    return message


def send_one(tmp_path: Path, message: dict[str, Any], **overrides: Any) -> tuple[SentReceipt, Any, MessagingClient]:
    """Send ``message`` on a connected session; the receipt, the Message sent and the client."""

    async def scenario(harness: Harness, client: MessagingClient) -> tuple[SentReceipt, Any, MessagingClient]:
        receipt = await harness.session.send(message)
        [(_, built)] = client.sent()
        return receipt, built, client

    result: tuple[SentReceipt, Any, MessagingClient] = run(tmp_path, scenario, **overrides)
    return result


@pytest.fixture
def stored_media(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Object storage for media: path -> bytes."""
    files: dict[str, bytes] = {}

    async def read(path: str) -> bytes:
        return files[path]

    monkeypatch.setattr(media_store, "read", read)
    return files


def media_spec(path: str, mime: str, filename: str = "") -> dict[str, Any]:
    return {"path": path, "mime": mime, "filename": filename, "size": 0, "sha256": ""}


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (640, 480)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA" if fmt == "WEBP" else "RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def ogg_opus(seconds: int, pre_skip: int = 312) -> bytes:
    head = b"OpusHead\x01\x01" + pre_skip.to_bytes(2, "little") + (48000).to_bytes(4, "little") + b"\x00\x00\x00"
    first = b"OggS\x00\x02" + (0).to_bytes(8, "little") + b"\x00" * 12 + b"\x01\x13" + head
    last = b"OggS\x00\x04" + (pre_skip + seconds * 48000).to_bytes(8, "little") + b"\x00" * 12 + b"\x01\x03abc"
    return first + b"\x00" * 500 + last


def mp4(seconds: int, timescale: int = 1000) -> bytes:
    mvhd = (
        b"mvhd\x00\x00\x00\x00" + b"\x00" * 8 + timescale.to_bytes(4, "big") + (seconds * timescale).to_bytes(4, "big")
    )
    return b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x6cmoov\x00\x00\x00\x6c" + mvhd + b"\x00" * 80


# --- text ------------------------------------------------------------------------------------------------------------


def test_a_text_goes_out_as_a_conversation_and_the_wa_id_comes_back(tmp_path):
    receipt, built, client = send_one(tmp_path, payload(content={"text": "hello", "link_preview": False}))

    [(to, _)] = client.sent()
    assert (to.User, to.Server, to.Device) == ("15550002222", "s.whatsapp.net", 0)
    assert built.conversation == "hello"
    assert not built.HasField("extendedTextMessage")
    assert receipt.wa_id == "3EB00000000000000001"
    assert receipt.timestamp.isoformat() == "2023-11-14T22:13:20+00:00"


def test_a_reply_with_mentions_carries_stanza_id_participant_mentions_and_the_quoted_message(tmp_path):
    async def scenario(harness: Harness, client: MessagingClient) -> tuple[Any, Any]:
        first = await harness.session.send(payload(content={"text": "our offer"}))
        reply_to = {"message_id": "m0", "wa_id": first.wa_id, "from_me": True, "sender_jid": "", "chat_jid": BOB}
        await harness.session.send(
            payload(content={"text": "@15550002222 see above", "mentions": [BOB]}, reply_to=reply_to)
        )
        return first, client.sent()[1][1]

    first, built = run(tmp_path, scenario)

    context = built.extendedTextMessage.contextInfo
    assert built.extendedTextMessage.text == "@15550002222 see above"
    assert context.stanzaID == first.wa_id
    assert context.participant == ME  # our own message: we are its sender
    assert list(context.mentionedJID) == [BOB]
    assert context.quotedMessage.conversation == "our offer"


def test_a_reply_to_a_message_we_do_not_remember_still_names_it(tmp_path):
    sender = "15550002222:4@s.whatsapp.net"  # a device of Bob's: quotes name the person
    reply_to = {"message_id": "m0", "wa_id": "3EB0THEIRS", "from_me": False, "sender_jid": sender, "chat_jid": BOB}

    _, built, _ = send_one(tmp_path, payload(content={"text": "yes"}, reply_to=reply_to))

    context = built.extendedTextMessage.contextInfo
    assert (context.stanzaID, context.participant) == ("3EB0THEIRS", BOB)
    assert not context.HasField("quotedMessage")


def test_a_reply_to_a_message_that_was_never_sent_fails(tmp_path):
    reply_to = {"message_id": "m0", "wa_id": "", "from_me": True, "sender_jid": ME, "chat_jid": BOB}

    with pytest.raises(EngineError) as caught:
        send_one(tmp_path, payload(content={"text": "yes"}, reply_to=reply_to))

    assert caught.value.code == "reference_not_sent"


def test_a_link_preview_is_merged_into_an_extended_text(tmp_path, monkeypatch):
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ExtendedTextMessage

    asked: list[tuple[str, bool]] = []

    def fake_preview(text: str, *, allow_private: bool = False) -> Any:
        asked.append((text, allow_private))
        return ExtendedTextMessage(matchedText="https://example.com/a", title="Example", description="An example")

    monkeypatch.setattr(preview, "link_preview", fake_preview)

    _, built, _ = send_one(tmp_path, payload(content={"text": "look https://example.com/a", "link_preview": True}))

    extended = built.extendedTextMessage
    assert (extended.text, extended.matchedText, extended.title) == (
        "look https://example.com/a",
        "https://example.com/a",
        "Example",
    )
    assert asked == [("look https://example.com/a", False)]


# --- media -----------------------------------------------------------------------------------------------------------


def test_an_image_is_uploaded_and_described_with_caption_and_thumbnail(tmp_path, stored_media):
    from neonize.utils.enum import MediaType

    stored_media["m/1.png"] = data = image_bytes()
    message = payload("image", content={"caption": "our shop"}, media=media_spec("m/1.png", "image/png", "shop.png"))

    _, built, client = send_one(tmp_path, message)

    image = built.imageMessage
    assert ("upload", (len(data), MediaType.MediaImage)) in client.calls
    assert (image.caption, image.mimetype, image.fileLength) == ("our shop", "image/png", len(data))
    assert (image.directPath, image.mediaKey) == ("/v/t62.7118-24/1.enc", b"k" * 32)
    assert image.fileSHA256 == hashlib.sha256(data).digest()
    assert (image.width, image.height) == (640, 480)
    assert image.JPEGThumbnail.startswith(b"\xff\xd8")


def test_a_document_goes_through_neonizes_builder_with_its_name(tmp_path, stored_media):
    from neonize.utils.enum import MediaType

    stored_media["m/2.pdf"] = data = b"%PDF-1.4 offer"
    message = payload(
        "document", content={"caption": "the offer"}, media=media_spec("m/2.pdf", "application/pdf", "offer.pdf")
    )

    _, built, client = send_one(tmp_path, message)

    document = built.documentMessage
    assert ("upload", (len(data), MediaType.MediaDocument)) in client.calls
    assert (document.fileName, document.mimetype, document.caption) == ("offer.pdf", "application/pdf", "the offer")
    assert document.fileSHA256 == hashlib.sha256(data).digest()


def test_a_voice_note_is_opus_push_to_talk_with_its_duration(tmp_path, stored_media):
    from neonize.utils.enum import MediaType

    stored_media["m/3.ogg"] = data = ogg_opus(seconds=7)

    _, built, client = send_one(tmp_path, payload("voice", media=media_spec("m/3.ogg", "audio/ogg")))

    audio = built.audioMessage
    assert ("upload", (len(data), MediaType.MediaAudio)) in client.calls
    assert (audio.PTT, audio.mimetype, audio.seconds) == (True, "audio/ogg; codecs=opus", 7)


def test_audio_and_video_carry_their_duration(tmp_path, stored_media):
    stored_media["m/4.mp3"] = b"ID3\x03\x00" + b"\x00" * 64
    stored_media["m/5.mp4"] = mp4(seconds=12)

    async def scenario(harness: Harness, client: MessagingClient) -> list[Any]:
        await harness.session.send(payload("audio", media=media_spec("m/4.mp3", "audio/mpeg")))
        await harness.session.send(
            payload("video", content={"caption": "demo"}, media=media_spec("m/5.mp4", "video/mp4"))
        )
        return [built for _, built in client.sent()]

    audio, video = run(tmp_path, scenario)

    assert (audio.audioMessage.PTT, audio.audioMessage.mimetype, audio.audioMessage.HasField("seconds")) == (
        False,
        "audio/mpeg",
        False,
    )
    assert (video.videoMessage.caption, video.videoMessage.seconds, video.videoMessage.mimetype) == (
        "demo",
        12,
        "video/mp4",
    )


def test_a_sticker_is_sent_as_the_webp_it_is(tmp_path, stored_media):
    stored_media["m/6.webp"] = data = image_bytes("WEBP", (512, 512))

    _, built, _ = send_one(tmp_path, payload("sticker", media=media_spec("m/6.webp", "image/webp")))

    sticker = built.stickerMessage
    assert (sticker.mimetype, sticker.fileLength, sticker.isAnimated) == ("image/webp", len(data), False)


def test_a_failed_upload_fails_the_message_as_media_upload_failed(tmp_path, stored_media):
    from neonize.exc import UploadError

    stored_media["m/1.png"] = image_bytes()

    async def scenario(harness: Harness, client: MessagingClient) -> EngineError:
        client.upload_error = UploadError("failed to upload: 500 Internal Server Error")
        with pytest.raises(EngineError) as caught:
            await harness.session.send(payload("image", media=media_spec("m/1.png", "image/png")))
        assert client.sent() == []
        return caught.value

    assert run(tmp_path, scenario).code == "media_upload_failed"


def test_media_missing_from_storage_fails_before_any_upload(tmp_path, stored_media):
    with pytest.raises(EngineError) as caught:
        send_one(tmp_path, payload("image", media=media_spec("m/gone.png", "image/png")))

    assert caught.value.code == "media_unavailable"


# --- location, contact, reaction, edit, delete -----------------------------------------------------------------------


def test_a_location(tmp_path):
    place = {"latitude": 52.520008, "longitude": 13.404954, "name": "TV tower", "address": "Panoramastr. 1A"}

    _, built, _ = send_one(tmp_path, payload("location", content={"location": place}))

    location = built.locationMessage
    assert (location.degreesLatitude, location.degreesLongitude) == (52.520008, 13.404954)
    assert (location.name, location.address) == ("TV tower", "Panoramastr. 1A")


def test_a_contact_card_is_a_vcard_with_the_whatsapp_id(tmp_path):
    contact = {"name": "Ann; Builder", "phone": "+1 (555) 000-3333", "organization": "Acme"}

    _, built, _ = send_one(tmp_path, payload("contact", content={"contact": contact}))

    assert built.contactMessage.displayName == "Ann; Builder"
    assert built.contactMessage.vcard.splitlines() == [
        "BEGIN:VCARD",
        "VERSION:3.0",
        "N:;Ann\\; Builder;;;",
        "FN:Ann\\; Builder",
        "ORG:Acme",
        "TEL;type=CELL;type=VOICE;waid=15550003333:+15550003333",
        "END:VCARD",
    ]


def test_a_reaction_keys_the_target_by_its_wa_id_chat_and_sender(tmp_path):
    target = {"message_id": "m9", "wa_id": "3EB0THEIRS", "from_me": False, "sender_jid": BOB, "chat_jid": GROUP}

    _, built, client = send_one(tmp_path, payload("reaction", to=GROUP, content={"emoji": "🎉"}, target=target))

    [(to, _)] = client.sent()
    reaction = built.reactionMessage
    assert (to.User, to.Server) == ("120363025246125486", "g.us")
    assert reaction.text == "🎉"
    assert (reaction.key.remoteJID, reaction.key.fromMe, reaction.key.ID, reaction.key.participant) == (
        GROUP,
        False,
        "3EB0THEIRS",
        BOB,
    )
    assert reaction.senderTimestampMS > 1_700_000_000_000


def test_a_reaction_to_our_own_message_in_a_direct_chat_has_no_participant(tmp_path):
    target = {"message_id": "m9", "wa_id": "3EB0MINE", "from_me": True, "sender_jid": ME, "chat_jid": BOB}

    _, built, _ = send_one(tmp_path, payload("reaction", content={"emoji": ""}, target=target))

    key = built.reactionMessage.key
    assert (key.fromMe, key.ID, key.HasField("participant"), built.reactionMessage.text) == (
        True,
        "3EB0MINE",
        False,
        "",
    )


def test_an_edit_replaces_the_text_of_our_message(tmp_path):
    target = {"message_id": "m9", "wa_id": "3EB0MINE", "from_me": True, "sender_jid": ME, "chat_jid": BOB}

    _, built, _ = send_one(tmp_path, payload("edit", content={"text": "fixed price"}, target=target))

    protocol = built.editedMessage.message.protocolMessage
    assert protocol.type == protocol.MESSAGE_EDIT
    assert (protocol.key.ID, protocol.key.fromMe, protocol.key.remoteJID) == ("3EB0MINE", True, BOB)
    assert protocol.editedMessage.conversation == "fixed price"


def test_a_delete_revokes_our_message_for_everyone(tmp_path):
    target = {"message_id": "m9", "wa_id": "3EB0MINE", "from_me": True, "sender_jid": ME, "chat_jid": BOB}

    _, built, _ = send_one(tmp_path, payload("delete", target=target))

    protocol = built.protocolMessage
    assert protocol.type == protocol.REVOKE
    assert (protocol.key.ID, protocol.key.fromMe, protocol.key.remoteJID) == ("3EB0MINE", True, BOB)


# --- failures --------------------------------------------------------------------------------------------------------


def test_sending_before_the_session_is_connected_is_not_connected(tmp_path):
    async def scenario() -> EngineError:
        harness = Harness(tmp_path, config(), client_class=MessagingClient)
        with pytest.raises(EngineError) as before_start:
            await harness.session.send(payload(content={"text": "hi"}))
        client = await harness.start_and_connect()
        await harness.from_go(client.qr, "2@waiting-for-a-scan")
        with pytest.raises(EngineError) as before_connected:
            await harness.session.send(payload(content={"text": "hi"}))
        await harness.session.stop()
        await harness.until(client.stopped.is_set)
        await harness.engine.close()
        assert before_start.value.code == "not_connected"
        return before_connected.value

    assert asyncio.run(scenario()).code == "not_connected"


def test_after_a_disconnect_sends_are_not_connected_until_connected_again(tmp_path):
    from neonize.events import ConnectedEv, DisconnectedEv

    async def scenario(harness: Harness, client: MessagingClient) -> SentReceipt:
        await harness.from_go(client.fire, DisconnectedEv(status=True))
        await harness.until(lambda: harness.states()[-1][0] == "reconnecting")
        with pytest.raises(EngineError) as caught:
            await harness.session.send(payload(content={"text": "hi"}))
        assert caught.value.code == "not_connected"
        await harness.from_go(client.fire, ConnectedEv(status=True))
        await harness.until(lambda: harness.states()[-1][0] == "connected")
        return await harness.session.send(payload(content={"text": "hi"}))

    assert run(tmp_path, scenario).wa_id


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("failed to send message: websocket not connected", "not_connected"),
        ("the store doesn't contain a device JID", "not_connected"),
        ("failed to get device list: info query returned status 404: item-not-found", "recipient_not_on_whatsapp"),
        ("message recipient must be a user JID with no device part", "invalid_recipient"),
        ("failed to get group members: info query returned status 403: forbidden", "invalid_recipient"),
        ("failed to send message: server returned error 500", "send_failed"),
        ("failed to encrypt: something odd", "send_failed"),
    ],
)
def test_send_failures_map_to_codes(tmp_path, error, code):
    from neonize.exc import SendMessageError

    async def scenario(harness: Harness, client: MessagingClient) -> EngineError:
        client.send_error = SendMessageError(error)
        with pytest.raises(EngineError) as caught:
            await harness.session.send(payload(content={"text": "hi"}))
        return caught.value

    refused = run(tmp_path, scenario)

    assert refused.code == code
    assert refused.message.startswith("WhatsApp refused: ")


def test_a_recipient_that_is_not_a_jid_is_invalid(tmp_path):
    with pytest.raises(EngineError) as caught:
        send_one(tmp_path, payload(to="+15550002222", content={"text": "hi"}))

    assert caught.value.code == "invalid_recipient"


def test_a_send_waiting_for_whatsapps_ack_does_not_hold_the_go_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(GO_LOCK, "entry_grace", 0.1)

    async def scenario(harness: Harness, client: MessagingClient) -> float:
        client.send_gate = threading.Event()
        sending = asyncio.ensure_future(harness.session.send(payload(content={"text": "slow"})))
        await harness.until(lambda: bool(client.sent()))
        started = time.monotonic()
        got = await asyncio.to_thread(GO_LOCK.acquire, True, 2.0)  # what a start or stop of another session does
        waited = time.monotonic() - started
        GO_LOCK.release()
        client.send_gate.set()
        assert got
        assert (await sending).wa_id
        return waited

    assert run(tmp_path, scenario) < 0.5


# --- read receipts, number checks, presence --------------------------------------------------------------------------


def test_mark_read_sends_read_receipts_for_the_messages(tmp_path):
    from neonize.utils.enum import ReceiptType

    async def scenario(harness: Harness, client: MessagingClient) -> Any:
        await harness.session.mark_read(GROUP, "15550002222:2@s.whatsapp.net", ["3EB0A", "3EB0B"])
        return client.calls[-1]

    name, (ids, chat, sender, receipt) = run(tmp_path, scenario)

    assert (name, ids, receipt) == ("mark_read", ("3EB0A", "3EB0B"), ReceiptType.READ)
    assert (chat.User, chat.Server) == ("120363025246125486", "g.us")
    assert (sender.User, sender.Device, sender.Server) == ("15550002222", 2, "s.whatsapp.net")


def test_check_numbers_asks_once_and_answers_in_order(tmp_path):
    async def scenario(harness: Harness, client: MessagingClient) -> tuple[list[dict[str, Any]], Any]:
        results = await harness.session.check_numbers(["15550009999", "+1 555 000 2222"])
        return results, client.calls[-1]

    results, call = run(tmp_path, scenario)

    assert call == ("is_on_whatsapp", ("+15550002222", "+15550009999"))
    assert results == [
        {"phone": "+15550009999", "on_whatsapp": False, "jid": ""},
        {"phone": "+15550002222", "on_whatsapp": True, "jid": BOB},
    ]


@pytest.mark.parametrize(
    ("state", "presence", "media"),
    [
        ("composing", "CHAT_PRESENCE_COMPOSING", "CHAT_PRESENCE_MEDIA_TEXT"),
        ("recording", "CHAT_PRESENCE_COMPOSING", "CHAT_PRESENCE_MEDIA_AUDIO"),
        ("paused", "CHAT_PRESENCE_PAUSED", "CHAT_PRESENCE_MEDIA_TEXT"),
    ],
)
def test_presence(tmp_path, state, presence, media):
    async def scenario(harness: Harness, client: MessagingClient) -> Any:
        await harness.session.send_presence(BOB, state)
        return client.calls[-1]

    name, (jid, sent_state, sent_media) = run(tmp_path, scenario)

    assert (name, jid.User, sent_state.name, sent_media.name) == ("send_chat_presence", "15550002222", presence, media)


def test_an_unknown_presence_is_refused(tmp_path):
    async def scenario(harness: Harness, client: MessagingClient) -> EngineError:
        with pytest.raises(EngineError) as caught:
            await harness.session.send_presence(BOB, "online")
        return caught.value

    assert run(tmp_path, scenario).code == "invalid_presence"
