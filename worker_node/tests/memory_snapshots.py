"""An in-memory stand-in for the worker's snapshot store (async save and load, like SnapshotStore)."""

from __future__ import annotations

from typing import cast

from worker_node.crypto import SnapshotKeyError
from worker_node.snapshots import SnapshotStore


class MemorySnapshots:
    def __init__(self, blobs: dict[str, bytes] | None = None) -> None:
        self.blobs: dict[str, bytes] = dict(blobs or {})
        self.saves: list[str] = []
        self.loads: list[str] = []
        self.unreadable: set[str] = set()

    async def save(self, session_id: str, plaintext: bytes) -> None:
        self.saves.append(session_id)
        self.blobs[session_id] = plaintext

    async def load(self, session_id: str) -> bytes | None:
        self.loads.append(session_id)
        if session_id in self.unreadable:
            raise SnapshotKeyError(f"the snapshot of {session_id} was encrypted with key 'gone'")
        return self.blobs.get(session_id)

    def as_store(self) -> SnapshotStore:
        return cast("SnapshotStore", self)
