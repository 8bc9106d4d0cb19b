"""python -m bench [--sessions N] [--neonize-counts 1,10,50] …: run the benchmarks, print tables, write JSON.

See bench/README.md for what each benchmark measures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.deployment import Deployment
from bench.neonize_cost import run_neonize
from bench.report import neonize_table, sandbox_table, write_json
from bench.sessions import SandboxOptions, run_sandbox

SANDBOX_NOTES = """\
notes: one gateway (uvicorn, one process) and one worker on this machine's PostgreSQL and Redis, with the benchmark
client on the same cores; figures are from one run and meant to be compared with each other, not across machines.
Times of "all ..." include the gateway's event ingest: a state reaches the API once the worker's event for it has
been stored (see the lag). RSS per session: overall = (connected - before) / N; marginal = from 25% to 100% of N
sessions hosted, without the one-time warm-up. The API rate limit is raised for the run (the client is not measured)."""


NEONIZE_NOTES = """\
notes: WhatsApp is unreachable here (DNS fails at once), so every dial fails in milliseconds and the sessions spend the
window in the engine's retry/backoff loop (NeonizeConfig defaults: backoff 1 s doubling to 60 s, parked as failed after
8 consecutive failures). These are costs of sessions that are not logged in; a logged-in session (keys, app state, a
live websocket) costs more. MB/session = (RSS - RSS with the engine loaded) / sessions, at 1 s (about one dial each)
and at the end of the window. After 5 s RSS grows only through retries: "MB per dial" is that growth per failed dial
(NEONIZE.md: a failed connect leaks ~0.2 MB and a descriptor that stop() does not free)."""


def positive_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1 or max(counts) > 500:
        raise argparse.ArgumentTypeError("comma-separated counts between 1 and 500")
    return counts


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sessions", type=int, default=1000, help="sandbox sessions on one worker (default 1000)")
    parser.add_argument("--pool", type=int, default=16, help="API calls in flight at once (default 16)")
    parser.add_argument("--phase-timeout", type=float, default=300.0, help="limit of each waiting phase, seconds")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle time before the growth check")
    parser.add_argument(
        "--qr-schedule", default="60,20,20,20,20,20", help="SANDBOX_QR_SCHEDULE (default: WhatsApp's rotation)"
    )
    parser.add_argument("--neonize-counts", type=positive_counts, default=[1, 10, 50])
    parser.add_argument("--neonize-seconds", type=float, default=30.0, help="dialing window per neonize run")
    parser.add_argument(
        "--worker-without-redis",
        action="store_true",
        help="start the worker without REDIS_URL (its sandbox numbers then reach only each other)",
    )
    parser.add_argument("--skip-sandbox", action="store_true")
    parser.add_argument("--skip-neonize", action="store_true")
    parser.add_argument("--skip-layers", action="store_true", help="leave out benchmark 3 (python -m bench.layers)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder with the processes' logs")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= 5000:
        parser.error("--sessions must be between 1 and 5000")
    if not 1 <= args.pool <= 64:
        parser.error("--pool must be between 1 and 64")
    if not 10 <= args.phase_timeout <= 1800 or not 0 <= args.idle_seconds <= 300:
        parser.error("--phase-timeout must be 10-1800 s and --idle-seconds 0-300 s")
    if not 5 <= args.neonize_seconds <= 50:
        parser.error("--neonize-seconds must be 5-50 (each run stays under a minute)")
    return args


def unreached(result: dict[str, Any]) -> list[str]:
    waits = {**result["waits"], "restart": result["restart"]["wait"]}
    return [name for name, wait in waits.items() if wait["seconds"] is None]


def sandbox(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    deployment = Deployment.prepare(tmp, api_rate_limit="1000000/min")
    try:
        deployment.start_gateway()
        options = SandboxOptions(
            sessions=args.sessions,
            pool=args.pool,
            phase_timeout=args.phase_timeout,
            settle_seconds=3.0,
            idle_seconds=args.idle_seconds,
            qr_schedule=args.qr_schedule,
            worker_redis=not args.worker_without_redis,
        )
        return asyncio.run(run_sandbox(deployment, options))
    finally:
        deployment.close()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    document: dict[str, Any] = {
        "date": started_at.isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(argv),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
    }
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    failed = False
    print(f"Switchboard benchmarks, {document['date']} (logs in {tmp})", flush=True)
    if not args.skip_sandbox:
        print(f"\n[1/3] {args.sessions} sandbox sessions on one worker …", flush=True)
        try:
            document["sandbox"] = sandbox(args, tmp)
            print(sandbox_table(document["sandbox"]) + "\n" + SANDBOX_NOTES, flush=True)
            missed = unreached(document["sandbox"])
            if missed:
                failed = True
                print(f"INCOMPLETE: {', '.join(missed)} did not complete (see the table)", file=sys.stderr)
        except Exception as error:
            failed = True
            document["sandbox"] = {"error": repr(error), "traceback": traceback.format_exc()}
            print(f"sandbox benchmark failed: {error!r}\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    if not args.skip_neonize:
        counts = ", ".join(map(str, args.neonize_counts))
        print(f"\n[2/3] neonize sessions dialing ({counts}), {args.neonize_seconds:.0f} s each …", flush=True)
        document["neonize"] = run_neonize(args.neonize_counts, args.neonize_seconds)
        print(neonize_table(document["neonize"]) + "\n" + NEONIZE_NOTES, flush=True)
        failed = failed or not all(run["survived"] for run in document["neonize"]["runs"])
    if not args.skip_layers:
        # In a process of its own: it sets up Django in-process, on a database of its own, and writes its own JSON.
        print("\n[3/3] the performance layer, each piece beside the stock way (python -m bench.layers) …", flush=True)
        root = Path(__file__).resolve().parents[1]
        layers = subprocess.run([sys.executable, "-m", "bench.layers"], cwd=root, check=False, timeout=1800)
        document["layers_exit_code"] = layers.returncode
        failed = failed or layers.returncode != 0
    document["duration_seconds"] = round(time.monotonic() - started, 1)
    path = write_json(document, started_at)
    print(f"\ndone in {document['duration_seconds']:.0f} s; results in {path}")
    if args.keep or failed:
        print(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
