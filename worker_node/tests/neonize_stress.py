"""Start and stop many real neonize sessions at once, with no network; run as a subprocess by test_neonize_stress.

A Go abort ("fatal error: concurrent map writes") kills this process, not pytest. Prints a JSON summary and, last,
"all N stopped" when every stop returned.

    python -m worker_node.tests.neonize_stress DATA_DIR [COUNT]
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from worker_node.engines.base import EngineEvent, SessionSpec, StateChanged
from worker_node.engines.neonize.runtime import NeonizeConfig
from worker_node.engines.neonize_engine import NeonizeEngine


async def run(data_dir: Path, count: int) -> dict[str, object]:
    engine = NeonizeEngine(
        NeonizeConfig(log_level=logging.ERROR, max_attempts=4, backoff_base=0.05, backoff_max=0.2, stop_timeout=30)
    )
    states: Counter[str] = Counter()

    def emit(event: EngineEvent) -> None:
        if isinstance(event, StateChanged):
            states[event.state] += 1

    sessions = [
        engine.open_session(SessionSpec(id=f"stress-{n:03d}", epoch=1, engine="neonize"), data_dir / f"s{n}", emit)
        for n in range(count)
    ]
    started = time.monotonic()
    await asyncio.gather(*(session.start() for session in sessions))
    await asyncio.sleep(2.0)  # let them dial, fail and retry, so the stops land amid starts and retries
    stopping = time.monotonic()
    await asyncio.gather(*(session.stop() for session in sessions))
    stopped = time.monotonic()
    await engine.close()
    return {
        "sessions": count,
        "states": dict(states),
        "stop_seconds": round(stopped - stopping, 3),
        "total_seconds": round(stopped - started, 3),
        "threads_left": sorted(t.name for t in threading.enumerate() if t is not threading.main_thread()),
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    data_dir = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    summary = asyncio.run(run(data_dir, count))
    print(json.dumps(summary), flush=True)
    print(f"all {count} stopped", flush=True)


if __name__ == "__main__":
    main()
