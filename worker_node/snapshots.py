"""Auth snapshots in object storage (S3 / MinIO or a local folder) through django-storages, encrypted first."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from worker_node.contract.snapshots import snapshot_path
from worker_node.contract.storage import default_storage_from_env
from worker_node.crypto import SnapshotKeys, decrypt, encrypt


def configure_storage(var_dir: Path) -> None:
    """The worker uses Django only for its storage layer: configure exactly that, from the same variables."""
    from django.conf import settings

    if not settings.configured:
        settings.configure(STORAGES={"default": default_storage_from_env(var_dir)}, USE_TZ=True)


class SnapshotStore:
    def __init__(self, keys: SnapshotKeys) -> None:
        self.keys = keys

    @staticmethod
    def _storage():  # type: ignore[no-untyped-def]
        from django.core.files.storage import storages

        return storages["default"]

    def _save(self, session_id: str, plaintext: bytes) -> None:
        from django.core.files.base import File

        blob = encrypt(self.keys, session_id, plaintext)
        self._storage().save(snapshot_path(session_id), File(io.BytesIO(blob), name="snapshot.bin"))

    def _load(self, session_id: str) -> bytes | None:
        storage = self._storage()
        path = snapshot_path(session_id)
        if not storage.exists(path):
            return None
        with storage.open(path, "rb") as handle:
            blob = handle.read()
        return decrypt(self.keys, session_id, blob)

    async def save(self, session_id: str, plaintext: bytes) -> None:
        await asyncio.to_thread(self._save, session_id, plaintext)

    async def load(self, session_id: str) -> bytes | None:
        """The decrypted snapshot, None when there is none; SnapshotKeyError when it exists but will not open."""
        return await asyncio.to_thread(self._load, session_id)
