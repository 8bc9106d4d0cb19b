"""What a session sends: WhatsApp messages built from the gateway's payloads, and the other outgoing commands.

The blocking functions here (``send``, ``mark_read``, ``check_numbers``, ``send_presence``) run in the engine's call
threads and reach Go only through ``Outbound.call`` (``Attempt.call``: GO_LOCK held shared while the call enters Go).
They raise only ``EngineError``, with the codes the worker's send loop understands: "not_connected" puts the message
back in the queue, any other code fails it with that code as the reason.

neonize is imported inside the functions: the engine configures logging before the first import.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker_node import media as media_store
from worker_node.engines.base import EngineError, SentReceipt
from worker_node.engines.neonize import mediameta
from worker_node.engines.neonize.runtime import ClientGone, GoBusy, GoClient
from worker_node.engines.neonize.translate import jid_str, short_error

logger = logging.getLogger(__name__)

MEDIA_KINDS = {"image", "video", "audio", "voice", "document", "sticker"}
_SERVERS = {"s.whatsapp.net", "g.us", "lid", "broadcast", "newsletter"}
_USER_SERVERS = {"s.whatsapp.net", "lid"}
_MS_THRESHOLD = 100_000_000_000

# whatsmeow's error texts, matched loosely (they are wrapped: "failed to send message: …"); unverified against live
# WhatsApp beyond "not logged in", which an unpaired client returns
_NOT_CONNECTED = ("not connected", "not logged in", "doesn't contain a device jid", "client is nil", "disconnected")
_INVALID_RECIPIENT = ("recipient must be a user jid", "unknown server", "invalid jid", "bad-request")
_NOT_ON_WHATSAPP = ("item-not-found", "no devices", "not on whatsapp", "not registered")
_GROUP_REFUSED = ("forbidden", "not-authorized", "item-not-found")
_STATUS = re.compile(r"\b(?:error|code|status)\D{0,3}(\d{3})\b")


# --- JIDs ------------------------------------------------------------------------------------------------------------


def parse_jid(text: str) -> Any:
    """neonize's JID for ``user[.agent][:device]@server``; EngineError("invalid_recipient") for anything else."""
    from neonize.proto.Neonize_pb2 import JID

    user, _, server = text.strip().partition("@")
    match = re.fullmatch(r"([0-9A-Za-z_-]+)(?:\.(\d+))?(?::(\d+))?", user)
    if server not in _SERVERS or match is None:
        raise EngineError("invalid_recipient", f"'{text}' is not a WhatsApp JID.")
    user, agent, device = match.group(1), int(match.group(2) or 0), int(match.group(3) or 0)
    return JID(User=user, RawAgent=agent, Device=device, Server=server, IsEmpty=False)


def user_jid(text: str) -> str:
    """The JID without its agent and device parts: who sent a message, not from which device."""
    user, at, server = text.partition("@")
    return f"{user.split(':')[0].split('.')[0]}{at}{server}" if at else ""


# --- failures --------------------------------------------------------------------------------------------------------


def classify(error: BaseException, default: str) -> EngineError:
    """The EngineError for a failed Go call; the error's own text goes to the logs and, shortened, to the caller."""
    if isinstance(error, EngineError):
        return error
    if isinstance(error, ClientGone):
        return EngineError("not_connected", "The session's connection ended before the command went out.")
    if isinstance(error, GoBusy):
        return EngineError("engine_busy", "The engine is busy starting and stopping sessions; try again.")
    text = str(error).lower()
    status = match.group(1) if (match := _STATUS.search(text)) else ""
    group_refused = "group" in text and (status in ("401", "403", "404") or any(p in text for p in _GROUP_REFUSED))
    code = default
    if any(part in text for part in _NOT_CONNECTED):
        code = "not_connected"
    elif group_refused or status == "400" or any(part in text for part in _INVALID_RECIPIENT):
        code = "invalid_recipient"
    elif status == "404" or any(part in text for part in _NOT_ON_WHATSAPP):
        code = "recipient_not_on_whatsapp"
    logger.warning("neonize call failed (%s): %s", code, error)
    return EngineError(code, f"WhatsApp refused: {short_error(error)}")


# --- the quote cache -------------------------------------------------------------------------------------------------

_BULKY = ("contextInfo", "JPEGThumbnail", "pngThumbnail", "waveform", "streamingSidecar", "scansSidecar",
          "firstScanSidecar", "firstFrameSidecar", "interactiveAnnotations", "annotations")  # fmt: skip


class QuoteCache:
    """Recent messages of one session by WhatsApp id, without thumbnails, to show in the quote of a reply.

    Recipients' apps look the quoted message up by its id; the copy in the reply only feeds this account's own
    devices, which show an empty quote without it (whatsmeow#88). Thread-safe: sends put from call threads.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, wa_id: str, message: Any) -> None:
        if not wa_id or self.size <= 0:
            return
        copy = type(message)()
        copy.CopyFrom(message)
        for _, inner in copy.ListFields():
            if hasattr(inner, "DESCRIPTOR"):  # a message field (not a string or a repeated field)
                for bulky in _BULKY:
                    if bulky in inner.DESCRIPTOR.fields_by_name:
                        inner.ClearField(bulky)
        with self._lock:
            self._items[wa_id] = copy
            self._items.move_to_end(wa_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, wa_id: str) -> Any | None:
        with self._lock:
            return self._items.get(wa_id)


# --- building messages -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outbound:
    """What the blocking functions need from the session: its client, the gated call, its quotes and account."""

    client: GoClient
    call: Callable[..., Any]  # Attempt.call: one Go call, GO_LOCK held shared while it enters Go
    quotes: QuoteCache
    me: str = ""  # our user JID, the participant of quotes of our own messages
    preview: Callable[[str], Any | None] = lambda text: None  # link preview fields for a text, or None


def vcard(name: str, phone: str, organization: str = "") -> str:
    """A vCard 3.0 in the form WhatsApp's apps send, with the number's WhatsApp id so it links to the chat."""
    digits = re.sub(r"\D", "", phone)
    if not digits:
        raise EngineError("invalid_contact", "The contact card needs a phone number with digits.")

    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")

    lines = ["BEGIN:VCARD", "VERSION:3.0", f"N:;{escape(name)};;;", f"FN:{escape(name)}"]
    if organization:
        lines.append(f"ORG:{escape(organization)}")
    lines += [f"TEL;type=CELL;type=VOICE;waid={digits}:+{digits}", "END:VCARD"]
    return "\n".join(lines)


def _ref(message: dict[str, Any], key: str) -> dict[str, Any]:
    ref = message.get(key) or {}
    if not ref.get("wa_id"):
        raise EngineError("reference_not_sent", "The message referred to was never sent, so it has no WhatsApp id.")
    return dict(ref)


def context_info(out: Outbound, message: dict[str, Any]) -> Any | None:
    """Mentions and the quoted message of a reply: ``ContextInfo(mentionedJID, stanzaID, participant, …)``."""
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo

    info = ContextInfo()
    mentions = [str(jid) for jid in (message.get("content") or {}).get("mentions") or []]
    info.mentionedJID.extend(mentions)
    if message.get("reply_to"):
        reply = _ref(message, "reply_to")
        info.stanzaID = str(reply["wa_id"])
        participant = user_jid(str(reply.get("sender_jid") or "")) or (out.me if reply.get("from_me") else "")
        if participant:
            info.participant = participant
        quoted = out.quotes.get(info.stanzaID)
        if quoted is not None:
            info.quotedMessage.CopyFrom(quoted)
    return info if info.ListFields() else None


def _uploaded(upload: Any) -> dict[str, Any]:
    return {
        "URL": upload.url,
        "directPath": upload.DirectPath,
        "mediaKey": upload.MediaKey,
        "fileEncSHA256": upload.FileEncSHA256,
        "fileSHA256": upload.FileSHA256,
        "fileLength": upload.FileLength,
        "mediaKeyTimestamp": int(time.time()),
    }


def _media_message(out: Outbound, kind: str, message: dict[str, Any], data: bytes) -> Any:
    """Upload the bytes and describe them. Documents and stickers use neonize's builders (which upload); images,
    video and audio are uploaded with ``client.upload`` and described here, because neonize's builders for them
    run ffmpeg (absent on workers) or a full Pillow pass before the upload reaches Go (see ``runtime.go_call``)."""
    from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e
    from neonize.utils.enum import MediaType

    media = message.get("media") or {}
    mime = str(media.get("mime") or "")
    caption = str((message.get("content") or {}).get("caption") or "") or None
    if kind == "document":
        built = out.call(out.client.build_document_message, data, None, None, media.get("filename") or None, mime)
        if caption:
            built.documentMessage.caption = caption
        return built
    if kind == "sticker":  # the gateway accepts only WebP stickers: send them as they are
        return out.call(functools.partial(out.client.build_sticker_message, data, passthrough=True))
    if kind == "image":
        upload = out.call(out.client.upload, data, MediaType.MediaImage)
        image = e2e.ImageMessage(**_uploaded(upload), mimetype=mime or "image/jpeg", caption=caption)
        thumbnail = mediameta.jpeg_thumbnail(data)
        if thumbnail is not None:
            image.JPEGThumbnail, image.width, image.height = thumbnail
        return e2e.Message(imageMessage=image)
    seconds = mediameta.seconds(data)
    if kind == "video":
        upload = out.call(out.client.upload, data, MediaType.MediaVideo)
        video = e2e.VideoMessage(**_uploaded(upload), mimetype=mime or "video/mp4", caption=caption, seconds=seconds)
        return e2e.Message(videoMessage=video)
    upload = out.call(out.client.upload, data, MediaType.MediaAudio)
    voice = kind == "voice"  # WhatsApp plays voice notes only when they say Opus in Ogg
    mimetype = "audio/ogg; codecs=opus" if voice else mime or "audio/mpeg"
    return e2e.Message(
        audioMessage=e2e.AudioMessage(**_uploaded(upload), mimetype=mimetype, PTT=voice, seconds=seconds)
    )


def _text_message(out: Outbound, content: dict[str, Any], info: Any | None) -> Any:
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ExtendedTextMessage, Message

    text = str(content.get("text") or "")
    if not text:
        raise EngineError("invalid_message", "A text message needs text.")
    preview = out.preview(text) if content.get("link_preview") else None
    if preview is None and info is None:
        return Message(conversation=text)
    extended = ExtendedTextMessage(text=text)
    if preview is not None:
        extended.MergeFrom(preview)
    if info is not None:
        extended.contextInfo.CopyFrom(info)
    return Message(extendedTextMessage=extended)


def _reaction_message(message: dict[str, Any]) -> Any:
    """What whatsmeow's BuildReaction makes (neonize's ``build_reaction``), from the target's own ``from_me``
    rather than a comparison with our JID, which fails when WhatsApp addresses us by LID."""
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message, ReactionMessage

    target = _ref(message, "target")
    chat = str(target.get("chat_jid") or message["to"])
    key = MessageKey(remoteJID=chat, fromMe=bool(target.get("from_me")), ID=str(target["wa_id"]))
    sender = user_jid(str(target.get("sender_jid") or ""))
    if not key.fromMe and sender and chat.split("@")[-1] not in _USER_SERVERS:
        key.participant = sender  # in groups the key names who wrote the message
    emoji = str((message.get("content") or {}).get("emoji") or "")
    return Message(reactionMessage=ReactionMessage(key=key, text=emoji, senderTimestampMS=int(time.time() * 1000)))


def build(out: Outbound, message: dict[str, Any], data: bytes | None) -> Any:
    """The protobuf ``Message`` for one gateway payload (uploading its media first)."""
    from neonize.builder import build_edit
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey
    from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

    kind = str(message.get("type") or "text")
    content = message.get("content") or {}
    if kind == "reaction":
        return _reaction_message(message)
    if kind == "edit":  # what neonize's edit_message sends
        target = _ref(message, "target")
        new_text = e2e.Message(conversation=str(content.get("text") or ""))
        return build_edit(parse_jid(str(message["to"])), str(target["wa_id"]), new_text)
    if kind == "delete":  # what neonize's revoke_message sends for our own message, without its get_me call
        key = MessageKey(remoteJID=str(message["to"]), fromMe=True, ID=str(_ref(message, "target")["wa_id"]))
        return e2e.Message(protocolMessage=e2e.ProtocolMessage(type=e2e.ProtocolMessage.REVOKE, key=key))
    info = context_info(out, message)
    if kind == "text":
        return _text_message(out, content, info)
    if kind == "location":
        place = content.get("location") or {}
        built = e2e.Message(
            locationMessage=e2e.LocationMessage(
                degreesLatitude=float(place["latitude"]), degreesLongitude=float(place["longitude"]),
                name=place.get("name") or None, address=place.get("address") or None,
            )
        )  # fmt: skip
    elif kind == "contact":
        card = content.get("contact") or {}
        name = str(card.get("name") or "")
        built = e2e.Message(
            contactMessage=e2e.ContactMessage(
                displayName=name, vcard=vcard(name, str(card.get("phone") or ""), str(card.get("organization") or ""))
            )
        )
    elif kind in MEDIA_KINDS:
        if data is None:
            raise EngineError("media_missing", f"A {kind} message needs its media.")
        try:
            built = _media_message(out, kind, message, data)
        except Exception as error:
            raise classify(error, "media_upload_failed")
    else:
        raise EngineError("unsupported_type", f"The neonize engine cannot send '{kind}' messages.")
    if info is not None:
        for field, inner in built.ListFields():
            if field.message_type is not None and "contextInfo" in field.message_type.fields_by_name:
                inner.contextInfo.CopyFrom(info)
    return built


def sent_at(timestamp: int) -> datetime:
    if timestamp <= 0:
        return datetime.now(UTC)
    return datetime.fromtimestamp(timestamp / 1000 if timestamp >= _MS_THRESHOLD else timestamp, UTC)


# --- the blocking commands -------------------------------------------------------------------------------------------


async def read_media(message: dict[str, Any]) -> bytes | None:
    """The bytes of a media message from object storage (on the loop, before the blocking send)."""
    if message.get("type") not in MEDIA_KINDS:
        return None
    path = str((message.get("media") or {}).get("path") or "")
    if not path:
        raise EngineError("media_missing", f"A {message.get('type')} message needs its media.")
    try:
        return await media_store.read(path)
    except Exception as error:
        logger.warning("media %s of message %s unreadable: %s", path, message.get("id"), error)
        raise EngineError("media_unavailable", "The message's media could not be read from storage.")


def send(out: Outbound, message: dict[str, Any], data: bytes | None) -> SentReceipt:
    to = parse_jid(str(message.get("to") or ""))
    built = build(out, message, data)
    try:
        response = out.call(out.client.send_message, to, built)
    except Exception as error:
        raise classify(error, "send_failed")
    if not response.ID:
        raise EngineError("send_failed", "WhatsApp acknowledged the message without an id.")
    if message.get("type") not in ("reaction", "edit", "delete"):
        try:  # it went out: bookkeeping must not turn that into a failure
            out.quotes.put(response.ID, built)
        except Exception:
            logger.exception("could not remember sent message %s for quotes", response.ID)
    return SentReceipt(wa_id=response.ID, timestamp=sent_at(response.Timestamp))


def mark_read(out: Outbound, chat_jid: str, sender_jid: str, wa_ids: list[str]) -> None:
    from neonize.utils.enum import ReceiptType

    if not wa_ids:
        return
    chat = parse_jid(chat_jid)
    sender = parse_jid(sender_jid) if sender_jid else chat
    try:
        out.call(functools.partial(out.client.mark_read, *wa_ids, chat=chat, sender=sender, receipt=ReceiptType.READ))
    except Exception as error:
        raise classify(error, "mark_read_failed")


def check_numbers(out: Outbound, phones: list[str]) -> list[dict[str, Any]]:
    """``[{phone: "+digits", on_whatsapp, jid}]`` in the order asked, from one ``is_on_whatsapp`` query."""
    digits = [re.sub(r"\D", "", phone) for phone in phones]
    queries = sorted({number for number in digits if number})
    try:
        answers = list(out.call(out.client.is_on_whatsapp, *(f"+{number}" for number in queries))) if queries else []
    except Exception as error:
        raise classify(error, "check_failed")
    found = {re.sub(r"\D", "", answer.Query): answer for answer in answers}
    results = []
    for number in digits:
        answer = found.get(number)
        jid = jid_str(answer.JID) if answer is not None and answer.IsIn else ""
        results.append({"phone": f"+{number}", "on_whatsapp": bool(jid), "jid": jid})
    return results


def send_presence(out: Outbound, to: str, state: str) -> None:
    from neonize.utils.enum import ChatPresence, ChatPresenceMedia

    states = {
        "composing": (ChatPresence.CHAT_PRESENCE_COMPOSING, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT),
        "recording": (ChatPresence.CHAT_PRESENCE_COMPOSING, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO),
        "paused": (ChatPresence.CHAT_PRESENCE_PAUSED, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT),
    }
    if state not in states:
        raise EngineError("invalid_presence", "Presence is one of composing, recording or paused.")
    jid = parse_jid(to)
    try:
        out.call(out.client.send_chat_presence, jid, *states[state])
    except Exception as error:
        raise classify(error, "presence_failed")
