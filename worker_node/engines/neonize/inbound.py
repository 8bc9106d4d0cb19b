"""What arrives: WhatsApp messages in the gateway's terms, and the media they carry downloaded and kept.

``describe`` and ``media_spec`` are pure and quick: they run on the session's Go callback thread (via ``translate``).
``Receiver`` runs on the asyncio loop: it keeps received messages in order, has each one's media downloaded in a call
thread (``client.download_any``) and stored with ``worker_node.media.store_inbound``, then emits the message with
``media: {path, mime, filename, size, sha256}``. A message whose media cannot be had is still emitted, with
``media: None`` and a ``media_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from worker_node import media as media_store
from worker_node.engines.base import GenericEvent

logger = logging.getLogger(__name__)

_WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension",
             "documentWithCaptionMessage", "editedMessage")  # fmt: skip
_MEDIA = {"imageMessage": "image", "videoMessage": "video", "ptvMessage": "video", "audioMessage": "audio",
          "documentMessage": "document", "stickerMessage": "sticker"}  # fmt: skip
_DEFAULT_MIME = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/ogg", "voice": "audio/ogg",
                 "document": "application/octet-stream", "sticker": "image/webp"}  # fmt: skip
# Parts of a message that are not content of their own: key distribution, sync and housekeeping.
_IGNORED = {"senderKeyDistributionMessage", "messageContextInfo", "protocolMessage", "keepInChatMessage",
            "pinInChatMessage", "encReactionMessage", "pollUpdateMessage", "deviceSentMessage"}  # fmt: skip


def unwrap(message: Any) -> Any:
    """The content inside ephemeral, view-once, document-with-caption and edit wrappers (whatsmeow unwraps most)."""
    for _ in range(4):
        wrapper = next((name for name in _WRAPPERS if message.HasField(name)), None)
        if wrapper is None:
            break
        message = getattr(message, wrapper).message
    return message


def text_of(message: Any) -> str:
    message = unwrap(message)
    if message.conversation:
        return str(message.conversation)
    if message.HasField("extendedTextMessage"):
        return str(message.extendedTextMessage.text)
    for name in ("imageMessage", "videoMessage", "documentMessage"):
        if message.HasField(name):
            return str(getattr(message, name).caption)
    return ""


def _vcard_value(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value).strip()


def parse_vcard(card: str, display_name: str = "") -> dict[str, str]:
    """name, phone (+digits, WhatsApp's waid when given) and organization of a vCard."""
    name, phone, organization = display_name, "", ""
    for line in re.sub(r"\r?\n[ \t]", "", card).splitlines():
        key, sep, value = line.partition(":")
        prop = key.split(";")[0].split(".")[-1].upper()
        if not sep:
            continue
        if prop == "FN" and not name:
            name = _vcard_value(value)
        elif prop == "ORG" and not organization:
            organization = _vcard_value(re.split(r"(?<!\\);", value)[0])
        elif prop == "TEL" and not phone:
            waid = re.search(r"waid=(\d+)", key, re.IGNORECASE)
            digits = waid.group(1) if waid else re.sub(r"\D", "", value)
            phone = f"+{digits}" if digits else ""
    return {"name": name, "phone": phone, "organization": organization}


@dataclass(frozen=True)
class Described:
    kind: str  # text, image, video, audio, voice, document, sticker, location, contact, reaction, edit, delete, …
    content: dict[str, Any] = field(default_factory=dict)
    quoted: str = ""  # the WhatsApp id of the message this one replies to
    target: str = ""  # the WhatsApp id a reaction, edit or delete is about


def _context(inner: Any) -> dict[str, Any]:
    if "contextInfo" not in inner.DESCRIPTOR.fields_by_name or not inner.HasField("contextInfo"):
        return {}
    info = inner.contextInfo
    return {"mentions": list(info.mentionedJID), "quoted": str(info.stanzaID)}


def describe(message: Any) -> Described | None:
    """The gateway's view of a message's content, or None for messages that carry nothing to show."""
    message = unwrap(message)
    if message.conversation:
        return Described("text", {"text": str(message.conversation)})
    fields = [(f.name, value) for f, value in message.ListFields() if f.message_type is not None]
    if message.HasField("protocolMessage"):
        protocol = message.protocolMessage
        if protocol.type == protocol.REVOKE:
            return Described("delete", target=str(protocol.key.ID))
        if protocol.type == protocol.MESSAGE_EDIT:
            return Described("edit", {"text": text_of(protocol.editedMessage)}, target=str(protocol.key.ID))
    name, inner = next(((n, v) for n, v in fields if n not in _IGNORED), ("", None))
    if inner is None:
        return None
    context = _context(inner)
    content: dict[str, Any] = {"mentions": context["mentions"]} if context.get("mentions") else {}
    kind = _MEDIA.get(name, "")
    if name == "extendedTextMessage":
        kind, content["text"] = "text", str(inner.text)
    elif kind:
        if name == "audioMessage" and inner.PTT:
            kind = "voice"
        if "caption" in inner.DESCRIPTOR.fields_by_name and kind not in ("sticker", "voice"):
            content["caption"] = str(inner.caption)
    elif name in ("locationMessage", "liveLocationMessage"):
        kind = "location"
        place = {"latitude": inner.degreesLatitude, "longitude": inner.degreesLongitude}
        place.update({"name": str(inner.name), "address": str(inner.address)} if name == "locationMessage" else {})
        content["location"] = place
    elif name == "contactMessage":
        kind, content["contact"] = "contact", parse_vcard(inner.vcard, inner.displayName)
    elif name == "contactsArrayMessage":
        cards = [parse_vcard(card.vcard, card.displayName) for card in inner.contacts]
        kind, content["contact"], content["contacts"] = "contact", cards[0] if cards else {}, cards
    elif name == "reactionMessage":
        return Described("reaction", {"emoji": str(inner.text)}, target=str(inner.key.ID))
    else:
        kind, content["unsupported"] = "unsupported", name  # polls, events, payments, …: the gateway keeps a stub
    return Described(kind, content, quoted=context.get("quoted", ""))


@dataclass(frozen=True)
class MediaSpec:
    kind: str
    mime: str
    filename: str  # the sender's name for a document, else ""
    size: int


def media_spec(message: Any) -> MediaSpec | None:
    """What a message's media is, if it has any that can be downloaded."""
    message = unwrap(message)
    for name, kind in _MEDIA.items():
        if message.HasField(name):
            inner = getattr(message, name)
            if not (inner.directPath or inner.URL):
                return None
            mime = str(inner.mimetype).split(";")[0].strip() or _DEFAULT_MIME[kind]
            filename = str(inner.fileName) if name == "documentMessage" else ""
            return MediaSpec(kind, mime, filename, int(inner.fileLength))
    return None


def safe_name(text: str, limit: int = 100) -> str:
    """A path segment from what a sender chose (message ids and file names): no separators, no dot-dot."""
    name = re.sub(r"[^\w.\- ]+", "_", text.replace("\\", "/").split("/")[-1]).strip(" .")
    return name[:limit] or "media"


@dataclass(eq=False)
class Receiver:
    """Emits one session's received messages in arrival order, each once its media is downloaded and stored."""

    session_id: str
    emit: Callable[[GenericEvent], None]
    download: Callable[[Any], Awaitable[bytes]]
    max_bytes: int
    _queue: asyncio.Queue[tuple[GenericEvent, Any, MediaSpec | None]] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None

    def put(self, event: GenericEvent, message: Any, spec: MediaSpec | None) -> None:
        """On the loop."""
        self._queue.put_nowait((event, message, spec))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"neonize-inbound:{self.session_id}")

    async def _run(self) -> None:
        while not self._queue.empty():
            event, message, spec = self._queue.get_nowait()
            if spec is not None:
                await self._attach(event, message, spec)
            self.emit(event)

    async def _attach(self, event: GenericEvent, message: Any, spec: MediaSpec) -> None:
        wa_id = str(event.data.get("wa_id", ""))
        if spec.size > self.max_bytes:
            event.data["media_error"] = f"too_large: {spec.size} bytes; the limit is {self.max_bytes}"
            return
        try:
            data = await self.download(unwrap(message))
            extension = mimetypes.guess_extension(spec.mime) or ""
            filename = safe_name(spec.filename or f"{wa_id}{extension}")
            stored = await media_store.store_inbound(self.session_id, safe_name(wa_id), data, spec.mime, filename)
        except Exception as error:
            logger.warning("session %s: media of %s not kept: %s", self.session_id, wa_id, error)
            event.data["media_error"] = f"download_failed: {error}"[:200]
            return
        event.data["media"] = stored.as_dict()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
