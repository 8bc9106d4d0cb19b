"""Media bytes in object storage, for engines: read what the gateway stored, write what arrived."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from worker_node.contract.snapshots import inbound_prefix


def _storage():  # type: ignore[no-untyped-def]
    from django.core.files.storage import storages

    return storages["default"]


def _read(path: str) -> bytes:
    with _storage().open(path, "rb") as handle:
        data: bytes = handle.read()
    return data


def _write(path: str, data: bytes) -> str:
    from django.core.files.base import ContentFile

    saved: str = _storage().save(path, ContentFile(data))
    return saved


async def read(path: str) -> bytes:
    return await asyncio.to_thread(_read, path)


@dataclass(frozen=True)
class StoredMedia:
    path: str
    mime: str
    filename: str
    size: int
    sha256: str

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "mime": self.mime,
            "filename": self.filename,
            "size": self.size,
            "sha256": self.sha256,
        }


async def store_inbound(session_id: str, wa_id: str, data: bytes, mime: str, filename: str) -> StoredMedia:
    """Keep received media under the receiving session, so it outlives the sender's copy."""
    path = await asyncio.to_thread(_write, f"{inbound_prefix(session_id)}{wa_id}/{filename or 'media'}", data)
    return StoredMedia(path, mime, filename, len(data), hashlib.sha256(data).hexdigest())
