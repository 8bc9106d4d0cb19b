"""Run in a fresh process by bench.neonize_cost: start N sessions on the worker's neonize engine and report what the
process costs while they dial. Prints one JSON line last; a Go abort kills this process, not the benchmark.

    python -m bench.neonize_probe --sessions 10 --data-dir /tmp/x --seconds 30

Without a network (this machine: DNS fails at once) every dial fails in milliseconds, so the sessions spend the window
in the engine's retry/backoff loop with the production settings (NeonizeConfig defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.procs import proc_status


def snapshot() -> dict[str, float]:
    status = proc_status(os.getpid())
    return {
        "rss_mb": round(status.get("VmRSS", 0) / 1024, 1),
        "peak_mb": round(status.get("VmHWM", 0) / 1024, 1),
        "threads": status.get("Threads", 0),
        "fds": len(os.listdir("/proc/self/fd")),
    }


async def run(count: int, data_dir: Path, seconds: float, stop_budget: float) -> dict[str, Any]:
    from worker_node.engines.base import EngineEvent, SessionSpec, StateChanged
    from worker_node.engines.neonize.runtime import NeonizeConfig
    from worker_node.engines.neonize_engine import NeonizeEngine

    before_import = snapshot()
    engine = NeonizeEngine(NeonizeConfig(log_level=logging.ERROR))
    engine_loaded = snapshot()

    states: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    other: Counter[str] = Counter()
    latest: dict[str, str] = {}

    def emitter(session_id: str) -> Any:
        def emit(event: EngineEvent) -> None:
            if isinstance(event, StateChanged):
                states[event.state] += 1
                latest[session_id] = event.state
                if event.reason:
                    reasons[event.reason.split(":")[0]] += 1
            else:
                other[event.type] += 1

        return emit

    ids = [str(uuid.uuid4()) for _ in range(count)]
    sessions = [
        engine.open_session(SessionSpec(id=sid, epoch=1, engine="neonize"), data_dir / sid, emitter(sid)) for sid in ids
    ]
    started = time.monotonic()
    await asyncio.gather(*(session.start() for session in sessions))
    samples: list[dict[str, float]] = []
    while (elapsed := time.monotonic() - started) < seconds:
        await asyncio.sleep(min(1.0, seconds - elapsed))
        dials = reasons.get("connect_failed", 0)
        samples.append({"t": round(time.monotonic() - started, 1), **snapshot(), "failed_dials": dials})
    dialing = snapshot()

    stopping = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.gather(*(s.stop() for s in sessions), return_exceptions=True), stop_budget)
        await asyncio.wait_for(engine.close(), stop_budget)
        stopped_in_time = True
    except TimeoutError:
        stopped_in_time = False
    stop_seconds = time.monotonic() - stopping
    early = samples[0] if samples else {**dialing, "failed_dials": 0}
    at_5s = next((s for s in samples if s["t"] >= min(5.0, seconds)), early)
    dials = reasons.get("connect_failed", 0)
    later_dials = dials - int(at_5s["failed_dials"])
    return {
        "sessions": count,
        "window_seconds": seconds,
        "before_import": before_import,
        "engine_loaded": engine_loaded,
        "dialing": dialing,
        "rss_at_1s_mb": early["rss_mb"],
        "rss_at_5s_mb": at_5s["rss_mb"],
        "mb_per_session_at_1s": round((early["rss_mb"] - engine_loaded["rss_mb"]) / count, 2),
        # Growth after 5 s comes from retries alone (no new sessions): RSS per failed dial.
        "mb_per_failed_dial_after_5s": round((dialing["rss_mb"] - at_5s["rss_mb"]) / later_dials, 3)
        if later_dials > 0
        else None,
        "samples": samples,
        "state_events": dict(states),
        "final_states": dict(Counter(latest.get(sid, "starting") for sid in ids)),
        "reasons": dict(reasons),
        "other_events": dict(other),
        "failed_dials": dials,
        "stop_seconds": round(stop_seconds, 2),
        "stopped_in_time": stopped_in_time,
        "connect_threads_left": sum(1 for t in threading.enumerate() if t.name.startswith("neonize-connect")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--stop-budget", type=float, default=15.0)
    args = parser.parse_args()
    # Before neonize's import calls logging.basicConfig(INFO).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    summary = asyncio.run(run(args.sessions, args.data_dir, args.seconds, args.stop_budget))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
