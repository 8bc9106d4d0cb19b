"""Media for outgoing messages: by URL (fetched safely), base64 or upload; checked, then kept in object storage."""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import posixpath
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from paas.api.errors import APIError
from sessions_app.models import MessageType
from worker_node.contract import netguard
from worker_node.contract.snapshots import inbound_prefix

# Magic bytes → MIME type, for the formats WhatsApp carries. A declared type must agree with what the bytes are.
_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF8", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
    (b"OggS", 0, "audio/ogg"),
    (b"ID3", 0, "audio/mpeg"),
    (b"\xff\xfb", 0, "audio/mpeg"),
    (b"\xff\xf3", 0, "audio/mpeg"),
    (b"\xff\xf2", 0, "audio/mpeg"),
    (b"\xff\xf1", 0, "audio/aac"),
    (b"\xff\xf9", 0, "audio/aac"),
    (b"#!AMR", 0, "audio/amr"),
    (b"ftyp3gp", 4, "video/3gpp"),
    (b"ftyp", 4, "video/mp4"),
    (b"PK\x03\x04", 0, "application/zip"),
]
ALLOWED = {
    MessageType.IMAGE: {"image/jpeg", "image/png", "image/webp", "image/gif"},
    MessageType.STICKER: {"image/webp"},
    MessageType.VIDEO: {"video/mp4", "video/3gpp"},
    MessageType.AUDIO: {"audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"},
    MessageType.VOICE: {"audio/ogg"},
}


def sniff(data: bytes) -> str | None:
    for signature, offset, mime in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            if mime == "video/mp4" and data[8:11] == b"M4A":
                return "audio/mp4"
            return mime
    return None


@dataclass(frozen=True)
class Media:
    data: bytes
    mime: str
    filename: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _error(code: str, message: str, status: int = 400) -> APIError:
    return APIError(code, message, status_code=status, details={"media": [message]})


def fetch_url(url: str) -> tuple[bytes, str]:
    try:
        fetched = netguard.request(
            "GET", url, timeout=settings.MEDIA_FETCH_TIMEOUT, max_bytes=settings.MEDIA_MAX_BYTES,
            allow_private=settings.ALLOW_PRIVATE_NETWORK_TARGETS,
        )  # fmt: skip
    except netguard.ForbiddenTarget as refused:
        code = "media_url_unreachable" if refused.code == "url_unresolvable" else "media_url_forbidden"
        raise _error(code, refused.message) from None
    except netguard.FetchError as failure:
        if failure.code == "too_large":
            raise _error("media_too_large", failure.message, 413) from None
        raise _error("media_url_unreachable", failure.message) from None
    if fetched.status != 200:
        raise _error("media_url_unreachable", f"The media URL answered {fetched.status}.")
    return fetched.body, fetched.headers.get("content-type", "").split(";")[0].strip()


def decode_base64(text: str) -> bytes:
    cleaned = re.sub(r"^data:[^;,]+;base64,", "", text.strip())
    try:
        data = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise _error("invalid_base64", "media.base64 is not valid base64.") from None
    if len(data) > settings.MEDIA_MAX_BYTES:
        raise _error(
            "media_too_large", f"The media is {len(data)} bytes; the limit is {settings.MEDIA_MAX_BYTES}.", 413
        )
    return data


def check(kind: str, data: bytes, declared_mime: str, filename: str) -> Media:
    """The media with its real MIME type, or an error when it is empty, too big or not what it claims to be."""
    if not data:
        raise _error("media_empty", "The media is empty.")
    if len(data) > settings.MEDIA_MAX_BYTES:
        raise _error(
            "media_too_large", f"The media is {len(data)} bytes; the limit is {settings.MEDIA_MAX_BYTES}.", 413
        )
    sniffed = sniff(data)
    declared = declared_mime.lower().strip()
    if declared == "application/octet-stream":
        declared = ""  # says nothing: go by the bytes
    # Office documents, EPUBs and the like are ZIP files under their own type.
    zip_based = sniffed == "application/zip" and kind == MessageType.DOCUMENT
    if (
        declared
        and sniffed
        and declared != sniffed
        and not zip_based
        and (declared, sniffed) != ("audio/mp4", "video/mp4")
    ):
        raise _error("media_type_mismatch", f"The media is declared {declared} but its bytes are {sniffed}.")
    mime = declared or sniffed or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    allowed = ALLOWED.get(MessageType(kind))
    if allowed is not None and mime not in allowed:
        raise _error(
            "media_type_mismatch", f"A {kind} message cannot carry {mime}; allowed: {', '.join(sorted(allowed))}."
        )
    if kind != MessageType.DOCUMENT and sniffed is None and allowed is not None:
        raise _error("media_type_mismatch", f"The bytes are not a recognised {kind} format.")
    name = filename or f"{kind}{mimetypes.guess_extension(mime) or ''}"
    return Media(data=data, mime=mime, filename=re.sub(r"[^\w.\- ]", "_", name)[:200])


def store(media: Media, *, session_id: object, message_id: object) -> str:
    path = f"media/{session_id}/{message_id}/{media.filename}"
    return default_storage.save(path, ContentFile(media.data))


def open_stored(path: str) -> File:
    """A message's stored media for reading, or 404 media_unavailable when storage no longer has it (or never could:
    a name too long for the filesystem, or one outside the storage's root)."""
    try:
        return default_storage.open(path, "rb")
    except (OSError, SuspiciousFileOperation):
        raise APIError("media_unavailable", "This message's media is no longer in storage.", status_code=404) from None


def attachment_name(filename: str) -> str:
    """A stored file name fit for Content-Disposition: control characters (a CR/LF would split the header) removed."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", "", filename).strip() or "media"


def is_inbound_path(path: str, *, session_id: object) -> bool:
    """Whether a worker's received-media path lies where workers keep that session's media (``inbound/<session>/``,
    worker_node/media.py), as a plain name: no dot-dot or empty segment that would lead elsewhere in storage."""
    prefix = inbound_prefix(session_id)
    return (
        len(path) <= 300  # Message.media_path: a longer name cut short would name another object
        and path.startswith(prefix)
        and len(path) > len(prefix)
        and posixpath.normpath(path) == path
    )
