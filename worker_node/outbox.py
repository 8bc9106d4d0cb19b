"""The worker's outbox: messages the gateway handed over, kept on disk in order until sent.

A message id enters once (a repeated hand-over is ignored) and leaves the queue once: it is marked "sending" before
the engine is called, so a crash in the middle never leads to a second send — such a message is reported as failed
("send_interrupted") instead, because at-most-once is what WhatsApp users expect of a retry.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT UNIQUE, "
            "session_id TEXT, body TEXT, state TEXT DEFAULT 'queued', wa_id TEXT DEFAULT '', at REAL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS outbox_session ON outbox (session_id, state, seq)")
        self._lock = threading.Lock()

    def enqueue(self, session_id: str, messages: list[dict[str, Any]]) -> list[str]:
        """Keep ``messages`` in their order; returns every id now known here (new or already queued or sent)."""
        with self._lock:
            self._db.execute("BEGIN")
            for message in messages:
                self._db.execute(
                    "INSERT OR IGNORE INTO outbox (message_id, session_id, body, at) VALUES (?, ?, ?, ?)",
                    (message["id"], session_id, json.dumps(message), time.time()),
                )
            self._db.execute("COMMIT")
        return [message["id"] for message in messages]

    def next_queued(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM outbox WHERE session_id = ? AND state = 'queued' ORDER BY seq LIMIT 1", (session_id,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def mark(self, message_id: str, state: str, wa_id: str = "") -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET state = ?, wa_id = ? WHERE message_id = ?", (state, wa_id, message_id))

    def wa_id(self, message_id: str) -> str:
        with self._lock:
            row = self._db.execute("SELECT wa_id FROM outbox WHERE message_id = ?", (message_id,)).fetchone()
        return str(row[0]) if row else ""

    def interrupted(self) -> list[tuple[str, str]]:
        """(session, message) pairs left in "sending" by a crash."""
        with self._lock:
            rows = self._db.execute("SELECT session_id, message_id FROM outbox WHERE state = 'sending'").fetchall()
        return [(str(a), str(b)) for a, b in rows]

    def drop_session(self, session_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE session_id = ? AND state = 'queued'", (session_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class TokenBucket:
    """Pacing: ``rate`` messages a minute on average, with a small burst, so a customer's burst cannot get a number
    banned for spamming."""

    def __init__(self, rate_per_minute: int, burst: int = 3) -> None:
        self.set_rate(rate_per_minute, burst)
        self.tokens = float(self.burst)
        self.updated = time.monotonic()

    def set_rate(self, rate_per_minute: int, burst: int = 3) -> None:
        self.rate = max(rate_per_minute, 1) / 60.0
        self.burst = max(1, min(burst, rate_per_minute))

    def wait_time(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate
