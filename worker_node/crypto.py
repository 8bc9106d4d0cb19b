"""Encryption of auth snapshots with AES-256-GCM before they reach object storage.

The keys come from WORKER_SNAPSHOT_KEYS (``id:base64key,id2:base64key``; the first encrypts, all decrypt), so keys can
rotate: add a new key in front, and old snapshots still open until they are rewritten. The gateway never needs them.
A blob is ``SBS1 | len(key id) | key id | 12-byte nonce | ciphertext+tag``; the session id and key id are bound in as
associated data, so a snapshot cannot be swapped onto another session.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

logger = logging.getLogger(__name__)
MAGIC = b"SBS1"


class SnapshotKeyError(Exception):
    """A snapshot that this worker's keys cannot open (or a key setting that cannot be used)."""


@dataclass(frozen=True)
class SnapshotKeys:
    current_id: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, raw: str) -> SnapshotKeys:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for item in filter(None, (part.strip() for part in raw.split(","))):
            key_id, _, encoded = item.partition(":")
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise SnapshotKeyError(f"WORKER_SNAPSHOT_KEYS: key {key_id!r} is not valid base64") from None
            if not key_id or len(key_id) > 64 or len(key) != 32:
                raise SnapshotKeyError(f"WORKER_SNAPSHOT_KEYS: {key_id!r} must be 'id:<base64 of 32 bytes>'")
            keys[key_id] = key
            order.append(key_id)
        if not order:
            raise SnapshotKeyError("WORKER_SNAPSHOT_KEYS holds no key")
        return cls(current_id=order[0], keys=keys)

    @classmethod
    def from_setting_or_file(cls, raw: str, fallback: Path, *, development: bool) -> SnapshotKeys:
        """The configured keys or, in ``development`` (DEBUG on), a development key generated once into ``fallback``."""
        if raw:
            return cls.parse(raw)
        if not development:
            # A key of its own would leave every other worker unable to restore this one's snapshots after a failover.
            raise SnapshotKeyError(
                "WORKER_SNAPSHOT_KEYS is not set: give every worker of the pool the same keys ('id:base64 of 32 "
                "bytes', see docs/workers.md, Auth snapshots), or set DEBUG=true on a developer's machine to let this "
                "worker generate a development key."
            )
        if not fallback.exists():
            fallback.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(fallback, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write("dev:" + base64.b64encode(secrets.token_bytes(32)).decode())
            logger.warning(
                "WORKER_SNAPSHOT_KEYS is not set: generated a development key in %s. Workers that do not share it "
                "cannot restore each other's snapshots; set WORKER_SNAPSHOT_KEYS in production.",
                fallback,
            )
        return cls.parse(fallback.read_text().strip())


def encrypt(keys: SnapshotKeys, session_id: str, plaintext: bytes) -> bytes:
    key_id = keys.current_id.encode()
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(keys.keys[keys.current_id]).encrypt(nonce, plaintext, session_id.encode() + b"|" + key_id)
    return MAGIC + bytes([len(key_id)]) + key_id + nonce + sealed


def decrypt(keys: SnapshotKeys, session_id: str, blob: bytes) -> bytes:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 1:
        raise SnapshotKeyError("the snapshot is not in Switchboard's format")
    length = blob[len(MAGIC)]
    start = len(MAGIC) + 1
    key_id = blob[start : start + length].decode(errors="replace")
    nonce = blob[start + length : start + length + 12]
    sealed = blob[start + length + 12 :]
    key = keys.keys.get(key_id)
    if key is None:
        raise SnapshotKeyError(f"the snapshot was encrypted with key '{key_id}', which this worker does not have")
    try:
        return AESGCM(key).decrypt(nonce, sealed, session_id.encode() + b"|" + key_id.encode())
    except InvalidTag:
        raise SnapshotKeyError(
            f"key '{key_id}' does not open this snapshot (wrong key, or the data was altered)"
        ) from None
