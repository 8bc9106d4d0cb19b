"""Snapshots and restores of the whatsmeow store (a SQLite file shaped like whatsmeow's)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from worker_node.engines.base import EngineError, SessionSpec
from worker_node.engines.neonize import store
from worker_node.engines.neonize.runtime import NeonizeConfig
from worker_node.engines.neonize_engine import NeonizeEngine


def make_store(path: Path, *, paired: bool, with_device_table: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("CREATE TABLE whatsmeow_version (version INTEGER, compat INTEGER)")
        connection.execute("INSERT INTO whatsmeow_version VALUES (10, 8)")
        if with_device_table:
            connection.execute(
                "CREATE TABLE whatsmeow_device (jid TEXT PRIMARY KEY, registration_id BIGINT NOT NULL, "
                "noise_key bytea NOT NULL, identity_key bytea NOT NULL, push_name TEXT NOT NULL DEFAULT '')"
            )
        connection.execute("CREATE TABLE whatsmeow_sessions (our_jid TEXT, their_id TEXT, session bytea)")
        connection.executemany(
            "INSERT INTO whatsmeow_sessions VALUES (?, ?, ?)",
            [("15550001111:12@s.whatsapp.net", f"1555000{n:04d}", bytes([n % 256]) * 64) for n in range(200)],
        )
        if paired:
            connection.execute(
                "INSERT INTO whatsmeow_device VALUES (?, ?, ?, ?, ?)",
                ("15550001111:12@s.whatsapp.net", 4242, b"n" * 32, b"i" * 32, "Ann"),
            )
    connection.close()


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    connection = sqlite3.connect(path)
    try:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()  # noqa: S608 - test tables
            for table in ("whatsmeow_version", "whatsmeow_device", "whatsmeow_sessions")
        }
    finally:
        connection.close()


@pytest.fixture(scope="module")
def engine() -> NeonizeEngine:
    return NeonizeEngine(NeonizeConfig(log_level=logging.WARNING))


def session_for(engine: NeonizeEngine, store_dir: Path):
    return engine.open_session(SessionSpec(id="s-store", epoch=1, engine="neonize"), store_dir, lambda event: None)


def test_there_is_no_snapshot_without_a_store(engine, tmp_path):
    session = session_for(engine, tmp_path / "s")

    assert session.snapshot() is None
    assert session.store_files() == []


@pytest.mark.parametrize("with_device_table", [True, False])
def test_an_unpaired_store_has_no_snapshot(engine, tmp_path, with_device_table):
    make_store(tmp_path / "s" / "whatsmeow.sqlite3", paired=False, with_device_table=with_device_table)
    session = session_for(engine, tmp_path / "s")

    assert session.snapshot() is None
    assert session.store_files() == []


def test_a_paired_store_snapshots_to_a_consistent_copy(engine, tmp_path):
    path = tmp_path / "s" / "whatsmeow.sqlite3"
    make_store(path, paired=True)
    session = session_for(engine, tmp_path / "s")

    data = session.snapshot()

    assert session.store_files() == [path]
    assert data is not None
    assert data.startswith(b"SQLite format 3\x00")
    copy = sqlite3.connect(":memory:")
    copy.deserialize(data)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert copy.execute("SELECT jid, push_name FROM whatsmeow_device").fetchall() == [
        ("15550001111:12@s.whatsapp.net", "Ann")
    ]


def test_a_snapshot_works_while_another_connection_holds_the_store_open(engine, tmp_path):
    path = tmp_path / "s" / "whatsmeow.sqlite3"
    make_store(path, paired=True)
    holder = sqlite3.connect(path)
    holder.execute("SELECT count(*) FROM whatsmeow_sessions").fetchone()
    try:
        assert session_for(engine, tmp_path / "s").snapshot() is not None
    finally:
        holder.close()


def test_restore_writes_the_same_rows_back(engine, tmp_path):
    source = tmp_path / "a" / "whatsmeow.sqlite3"
    make_store(source, paired=True)
    data = session_for(engine, tmp_path / "a").snapshot()
    assert data is not None

    NeonizeEngine.restore(tmp_path / "b", data)

    restored = tmp_path / "b" / "whatsmeow.sqlite3"
    assert rows(restored) == rows(source)
    assert session_for(engine, tmp_path / "b").store_files() == [restored]
    assert session_for(engine, tmp_path / "b").snapshot() == data


def test_restore_removes_a_stale_journal_and_replaces_the_old_store(tmp_path):
    source = tmp_path / "a" / "whatsmeow.sqlite3"
    make_store(source, paired=True)
    data = store.take_snapshot(source)
    assert data is not None
    target = tmp_path / "b" / "whatsmeow.sqlite3"
    make_store(target, paired=False)
    Path(f"{target}-journal").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\0" * 504)

    store.restore_snapshot(tmp_path / "b", data)

    assert not Path(f"{target}-journal").exists()
    assert rows(target) == rows(source)


def test_restore_refuses_what_is_not_a_sqlite_store(tmp_path):
    with pytest.raises(EngineError) as caught:
        NeonizeEngine.restore(tmp_path / "b", b"not a database")

    assert caught.value.code == "bad_snapshot"
    assert not (tmp_path / "b" / "whatsmeow.sqlite3").exists()


def test_a_snapshot_waits_out_a_transaction_in_flight(tmp_path):
    path = tmp_path / "s" / "whatsmeow.sqlite3"
    make_store(path, paired=True)
    journal = Path(f"{path}-journal")
    journal.write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\0" * 504)  # a write is in flight

    with pytest.raises(EngineError) as caught:
        store.take_snapshot(path, attempts=3, pause=0.01)
    assert caught.value.code == "store_busy"

    journal.unlink()
    assert store.take_snapshot(path, attempts=3, pause=0.01) is not None


def test_a_store_left_with_a_journal_by_a_crash_still_counts_as_paired(engine, tmp_path):
    path = tmp_path / "s" / "whatsmeow.sqlite3"
    make_store(path, paired=True)
    Path(f"{path}-journal").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\0" * 504)

    assert session_for(engine, tmp_path / "s").store_files() == [path]
