"""The whatsmeow SQLite store of one session: paired or not, consistent snapshots, restores.

Go's SQLite and Python's are two SQLite libraries in one process, and POSIX file locks are per process: they neither
see nor respect each other's locks, and Python releasing its lock would drop Go's. So Python never locks the store
(``immutable=1``) and never writes to it. A snapshot instead checks that no write overlapped the copy: no journal
(the store runs in rollback mode, so a journal means a transaction is in flight), the same file change counter and
mtime before and after, and an intact copy; otherwise it retries.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from worker_node.engines.base import EngineError

STORE_FILENAME = "whatsmeow.sqlite3"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SIDE_FILES = ("-journal", "-wal", "-shm")
T = TypeVar("T")


def store_path(store_dir: Path) -> Path:
    return store_dir / STORE_FILENAME


def _journal_active(path: Path) -> bool:
    try:
        return os.stat(f"{path}-journal").st_size > 0
    except FileNotFoundError:
        return False


def _fingerprint(path: Path) -> tuple[int, int, bytes]:
    """(mtime, size, file change counter): the counter in the header grows with every commit in rollback mode."""
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        header = handle.read(100)
    return stat.st_mtime_ns, stat.st_size, header[24:28]


def _has_device(connection: sqlite3.Connection) -> bool:
    try:
        row = connection.execute("SELECT 1 FROM whatsmeow_device LIMIT 1").fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return False  # the table is created at the first connect; no table, no device
        raise
    return row is not None


def _read_quietly(path: Path, read: Callable[[sqlite3.Connection], T]) -> tuple[bool, T | None]:
    """Run ``read`` on the store without locking it; (False, None) if a write may have overlapped the read."""
    try:
        if _journal_active(path):
            return False, None
        before = _fingerprint(path)
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
        try:
            result = read(connection)
        finally:
            connection.close()
        if _journal_active(path) or _fingerprint(path) != before:
            return False, None
    except (sqlite3.DatabaseError, OSError):
        return False, None  # caught the file mid-write, or it was replaced or removed under us
    return True, result


def _retrying(path: Path, read: Callable[[sqlite3.Connection], T], attempts: int, pause: float) -> T | None:
    for _ in range(attempts):
        if not path.exists():
            return None
        ok, result = _read_quietly(path, read)
        if ok:
            return result
        time.sleep(pause)
    raise EngineError("store_busy", f"The store {path.name} kept changing during {attempts} read attempts.")


def _serialize_if_paired(source: sqlite3.Connection) -> bytes | None:
    copy = sqlite3.connect(":memory:")
    try:
        source.backup(copy)
        if copy.execute("PRAGMA quick_check").fetchone() != ("ok",):
            raise sqlite3.DatabaseError("the copy is damaged")
        return copy.serialize() if _has_device(copy) else None
    finally:
        copy.close()


def take_snapshot(path: Path, *, attempts: int = 40, pause: float = 0.05) -> bytes | None:
    """A consistent copy of the store, or None when it holds no paired device (or does not exist)."""
    return _retrying(path, _serialize_if_paired, attempts, pause)


def is_paired(path: Path) -> bool:
    """Whether the store holds a paired device. Called before the session's client runs, so it never waits: a
    journal left by a crash is rolled back by Go at the next start, and a store we cannot read yet counts as paired
    rather than be replaced by an older snapshot."""
    if not path.exists():
        return False
    ok, paired = _read_quietly(path, _has_device)
    if ok:
        return bool(paired)
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
        try:
            return _has_device(connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return path.stat().st_size > 0


def restore_snapshot(store_dir: Path, data: bytes) -> None:
    """Write a snapshot back as the session's store (atomically), removing any journal of an earlier store."""
    if not data.startswith(_SQLITE_MAGIC):
        raise EngineError("bad_snapshot", "The snapshot is not a whatsmeow SQLite store.")
    store_dir.mkdir(parents=True, exist_ok=True)
    path = store_path(store_dir)
    for suffix in _SIDE_FILES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)  # a stale hot journal would be "rolled back" into it
    tmp = path.with_name(f".{path.name}.restoring")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def store_stamp(path: Path) -> tuple[int, int] | None:
    """(mtime, size) of the store, to notice changes cheaply; None when it does not exist."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size
