"""python -m bench.cpu_per_message: the CPU each process of the stack spends per send, beside whoami's per request.

bench.messaging's ratios swing with the shared machine's speed, which can change by a third within a minute; the CPU
time a message costs moves much less, so it is what tells whether a change made sending cheaper. The stack is
bench.messaging's (an API gateway, the workers' gateway, Celery, two sandbox worker nodes, sessions A and B). Each
round measures, one after the other:

  whoami        GET /api/v1/whoami, closed loop (8 in flight): CPU per answered request
  send closed   POST /api/v1/sessions/A/messages, closed loop (8 in flight), then the outbox drained: CPU per
                message that reached "sent" (the drain's CPU included)
  send at R/s   the same send, open loop at a fixed rate (--rate): where hand-overs and event requests carry fewer
                messages each, so every part of the pipeline costs more per message

The last column adds up the stack's processes (not the benchmark client). To compare two settings, run this once
for each, close together in time (for example --event-interval-ms 0 against the default).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import CLIENT, closed_loop, finish, header, host_facts, open_loop, table, tree_cpu_seconds
from bench.messaging import API_RATE_LIMIT, SEND_RATE, Client, drain, outbox, start_pipeline, warmed_up
from bench.stack import Stack

DATABASE, PREFIX = "bench_switchboard_cpu", "benchcpu"


class CpuClock:
    """CPU seconds used by each process of the stack (a Celery worker with its children) since the last read."""

    def __init__(self, stack: Stack) -> None:
        self.pids = stack.processes()
        self.last = self._now()

    def _now(self) -> dict[str, float]:
        return {name: sum(tree_cpu_seconds(pid, tree=name != CLIENT).values()) for name, pid in self.pids.items()}

    def per(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per item, for ``count`` items done since the last read."""
        now, last = self._now(), self.last
        self.last = now
        return {name: 1000 * (now[name] - last[name]) / max(count, 1) for name in now}


async def one_round(stack: Stack, http: aiohttp.ClientSession, db: Any, client: Client, args: Any) -> list[Any]:
    loop = {"concurrency": args.concurrency, "seconds": args.seconds, "max_requests": 200_000}
    clock = CpuClock(stack)
    whoami = await closed_loop(http, client.whoami, name="whoami", expected=200, **loop)
    rows = [("whoami", whoami.per_second, clock.per(whoami.ok))]
    for label, run_sends in (
        ("send closed", lambda: closed_loop(http, client.send, name="send", expected=202, **loop)),
        (f"send at {args.rate:.0f}/s", lambda: open_loop(http, client.send, name="send", expected=202, rate=args.rate,
                                                         seconds=args.seconds, max_in_flight=256)),
    ):  # fmt: skip
        await asyncio.sleep(1)
        before = await outbox(db, client.a)
        clock.per(0)  # start counting here
        run = await run_sends()
        drained, _ = await drain(db, client.a, args.drain_timeout)
        rows.append((label, run.per_second, clock.per(drained["sent"] - before["sent"])))
    return rows


async def measure(stack: Stack, a: str, args: Any) -> list[dict[str, Any]]:
    async with warmed_up(stack, a, args.drain_timeout) as (http, db):
        client = Client(a)
        rows = []
        for number in range(1, args.rounds + 1):
            print(f"  round {number} of {args.rounds} …", flush=True)
            for phase, rate, cpu in await one_round(stack, http, db, client, args):
                rows.append({"round": number, "phase": phase, "per_second": round(rate, 1),
                             "cpu_ms": {name: round(value, 2) for name, value in cpu.items()}})  # fmt: skip
        return rows


def report(document: dict[str, Any]) -> str:
    if "rows" not in document:
        return header("Switchboard CPU per message", document) + f"\nFAILED: {document.get('error')}"
    names = list(document["rows"][0]["cpu_ms"])
    stack_names = [name for name in names if name != CLIENT]
    lines = [
        [str(row["round"]), row["phase"], f"{row['per_second']:.0f}/s",
         *(f"{row['cpu_ms'][name]:.2f}" for name in names),
         f"{sum(row['cpu_ms'][name] for name in stack_names):.2f}"]
        for row in document["rows"]
    ]  # fmt: skip
    s = document["settings"]
    interval = "the worker's default" if s["event_interval_ms"] is None else f"{s['event_interval_ms']} ms"
    notes = (
        'CPU in ms per whoami request or per message reaching "sent" (drain included); stack = every process but '
        f"the benchmark client. Worker event interval: {interval}. {s['concurrency']} in flight in the closed loops, "
        f"{s['seconds']:.0f} s per phase."
    )
    return "\n".join([
        header("Switchboard CPU per message", document), "",
        table(["round", "phase", "rate", *names, "stack"], lines), "", notes,
    ])  # fmt: skip


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_per_message", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the three phases (default 2)")
    parser.add_argument("--seconds", type=float, default=15.0, help="each phase (default 15)")
    parser.add_argument("--rate", type=float, default=40.0, help="sends per second of the open-loop phase (default 40)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight in the closed loops")
    parser.add_argument("--event-interval-ms", type=int, default=None,
                        help="the worker nodes' WORKER_EVENT_INTERVAL_MS (default: theirs)")  # fmt: skip
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="waiting for the outbox to empty")
    args = parser.parse_args(argv)
    if not (1 <= args.rounds <= 10 and 1 <= args.seconds <= 120 and 1 <= args.rate <= 1000):
        parser.error("--rounds 1-10, --seconds 1-120, --rate 1-1000")
    if not (1 <= args.concurrency <= 256 and 5 <= args.drain_timeout <= 600):
        parser.error("--concurrency 1-256, --drain-timeout 5-600")
    if args.event_interval_ms is not None and not 0 <= args.event_interval_ms <= 1000:
        parser.error("--event-interval-ms 0-1000")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started_at, started = datetime.now(UTC), time.monotonic()
    document: dict[str, Any] = {
        "date": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.cpu_per_message", *argv]),
        "host": host_facts(),
        "settings": vars(args),
    }
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-cpu-"))
    print(f"Switchboard CPU per message, {document['date']} (logs in {tmp})", flush=True)
    worker_env = {} if args.event_interval_ms is None else {"WORKER_EVENT_INTERVAL_MS": str(args.event_interval_ms)}
    stack: Stack | None = None
    failed = False
    try:
        stack = Stack.prepare(database=DATABASE, prefix=PREFIX, tmp=tmp, API_RATE_LIMIT=API_RATE_LIMIT,
                              SEND_RATE_MAX_PER_MINUTE=str(SEND_RATE))  # fmt: skip
        a = start_pipeline(stack, single_gateway=False, celery_concurrency=8, **worker_env)
        document["rows"] = asyncio.run(measure(stack, a, args))
    except Exception as error:
        failed = True
        document["error"], document["traceback"] = repr(error), traceback.format_exc()
        print(traceback.format_exc(), file=sys.stderr, flush=True)
    finally:
        if stack is not None:
            stack.close()
    finish(
        document, name="cpu-per-message", report=report, started_at=started_at, started=started, tmp=tmp, keep=failed
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
