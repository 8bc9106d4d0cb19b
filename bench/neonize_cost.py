"""Benchmark 2: what a dialing neonize session costs, each count in a fresh process (bench.neonize_probe).

WhatsApp is unreachable from these machines, so the figures are for sessions that dial and fail (here DNS fails at
once) and sit in the engine's retry/backoff loop: the cost of a session that is not logged in. A logged-in session
also holds its keys, app state and a live websocket, and costs more.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.procs import ROOT, clean_env


def probe(count: int, seconds: float, hard_timeout: float) -> dict[str, Any]:
    """One fresh process with ``count`` sessions; never longer than ``hard_timeout`` seconds."""
    with tempfile.TemporaryDirectory(prefix=f"bench-neonize-{count}-") as data_dir:
        command = [
            sys.executable, "-m", "bench.neonize_probe",
            "--sessions", str(count), "--data-dir", data_dir, "--seconds", str(seconds),
            "--stop-budget", str(max(5.0, min(15.0, hard_timeout - seconds - 5))),
        ]  # fmt: skip
        started = time.monotonic()
        try:
            done = subprocess.run(
                command, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=hard_timeout, check=False
            )
            stdout, stderr, code, timed_out = done.stdout, done.stderr, done.returncode, False
        except subprocess.TimeoutExpired as expired:
            stdout = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else expired.stdout or ""
            stderr = (expired.stderr or b"").decode() if isinstance(expired.stderr, bytes) else expired.stderr or ""
            code, timed_out = None, True
    took = time.monotonic() - started
    summary: dict[str, Any] = {}
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            summary = json.loads(line)
            break
    go_abort = "fatal error:" in stderr or "panic:" in stderr
    summary.update(
        {
            "sessions": count,
            "exit_code": code,
            "timed_out": timed_out,
            "go_abort": go_abort,
            "survived": code == 0 and bool(summary.get("dialing")) and not go_abort,
            "process_seconds": round(took, 1),
            "stderr_tail": stderr[-1500:] if (code != 0 or go_abort) else "",
        }
    )
    return summary


def run_neonize(counts: list[int], seconds: float) -> dict[str, Any]:
    runs = [probe(count, seconds, hard_timeout=seconds + 30) for count in counts]
    by_count = {run["sessions"]: run for run in runs if run.get("dialing")}
    ordered = sorted(by_count)
    pairs = list(itertools.pairwise(ordered))
    if len(ordered) > 2:
        pairs.append((ordered[0], ordered[-1]))
    marginal: dict[str, dict[str, float]] = {}
    for moment, key in (("at 5 s", "rss_at_5s_mb"), ("at the end", "end")):
        figures = marginal.setdefault(moment, {})
        for low, high in pairs:
            rss_low, rss_high = (
                by_count[c]["dialing"]["rss_mb"] if key == "end" else by_count[c][key] for c in (low, high)
            )
            figures[f"{low}->{high}"] = round((rss_high - rss_low) / (high - low), 2)
    return {"window_seconds": seconds, "runs": runs, "marginal_mb_per_session": marginal}
