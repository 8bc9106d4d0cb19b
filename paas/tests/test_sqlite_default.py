"""The embedded SQLite default under `make run`: the gateway's threads, Celery and beat write at once, and none of
them may fail with "database is locked"."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from paas.settings.database import parse_database_url
from paas.tests.sqlite_writers import TRANSACTIONS
from tests.fixtures.processes import ROOT, child_env

PROCESSES, THREADS = 3, 4


def test_sqlite_transactions_take_the_write_lock_at_begin_and_use_wal() -> None:
    options = parse_database_url("sqlite:///tmp/x.sqlite3", connect_timeout=3)["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]
    assert options["timeout"] >= 10


def test_concurrent_read_then_write_transactions_on_the_embedded_default_all_succeed(tmp_path: Path) -> None:
    env = child_env(DEBUG="true", SWITCHBOARD_VAR_DIR=str(tmp_path), SECRET_KEY="")
    env.pop("DATABASE_URL", None)
    script = [sys.executable, "-m", "paas.tests.sqlite_writers"]
    subprocess.run([*script, "0"], cwd=ROOT, env=env, check=True, timeout=120)

    writers = [
        subprocess.Popen([*script, str(THREADS)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    results = [writer.communicate(timeout=120)[0].split(maxsplit=2) for writer in writers]

    assert [(int(done), int(failed)) for done, failed, _ in results] == [(THREADS * TRANSACTIONS, 0)] * PROCESSES, (
        results
    )
    with sqlite3.connect(tmp_path / "switchboard.sqlite3") as db:
        [(uses,)] = db.execute("SELECT uses FROM workers_app_enrollmenttoken WHERE prefix = 'counter'").fetchall()
    assert uses == PROCESSES * THREADS * TRANSACTIONS  # no update lost either
