"""Event ingest figures, read from the benchmark's own database after the run: how fast the gateway took in the
workers' events and how long each waited between the worker and PostgreSQL (occurred_at -> received_at)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

QUERY = """
SELECT CASE WHEN occurred_at < %(split)s THEN 'first run' ELSE 'after restart' END AS phase, type, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - occurred_at)),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - occurred_at)),
       max(extract(epoch FROM received_at - occurred_at))
FROM sessions_app_sessionevent GROUP BY phase, type ORDER BY min(occurred_at), type
"""
RATE = """
SELECT phase, sum(n), count(*), max(n)
FROM (SELECT CASE WHEN occurred_at < %(split)s THEN 'first run' ELSE 'after restart' END AS phase, count(*) AS n
      FROM sessions_app_sessionevent GROUP BY phase, date_trunc('second', received_at)) AS per_second
GROUP BY phase
"""


def ingest_stats(database_url: str, split: datetime | None) -> dict[str, Any]:
    """Per phase (events that occurred before ``split``, the worker's restart, or after) and event type: count and
    lag; overall rates."""
    params = {"split": split or datetime.now(UTC)}
    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            rows = conn.execute(QUERY, params).fetchall()
            rates = conn.execute(RATE, params).fetchall()
    except psycopg.Error as error:
        return {"error": str(error)}
    return {
        "events": sum(int(total) for _, total, _, _ in rates),
        # Over the seconds in which any event arrived: the ingest rate while there was work, idle time left out.
        "rates": [
            {
                "phase": phase,
                "events": int(total),
                "events_per_busy_second": round(float(total) / float(busy), 1),
                "peak_per_second": int(peak),
            }
            for phase, total, busy, peak in sorted(rates, key=lambda row: row[0] != "first run")
        ],
        "by_phase_and_type": [
            {
                "phase": phase,
                "type": kind,
                "count": count,
                "lag_p50_s": round(float(p50), 2),
                "lag_p95_s": round(float(p95), 2),
                "lag_max_s": round(float(top), 2),
            }
            for phase, kind, count, p50, p95, top in rows
        ],
    }
