"""Load generation and reporting for the messaging and webhook benchmarks.

Closed loop: a fixed number of clients, each sending its next request when the previous one answered (throughput).
Open loop: requests start on a fixed schedule whatever the server does, and latency is counted from the scheduled
start, so a server that falls behind cannot hide its queueing (latency). Both are bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import platform
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

from bench.api import percentile
from bench.procs import cpu_seconds

RESULTS = Path(__file__).resolve().parent / "results"
CLIENT = "bench client"  # this process: its children are the stack, counted under their own names
# One request: given the client and the request's sequence number, its HTTP status.
Request = Callable[[aiohttp.ClientSession, int], Awaitable[int]]


@dataclass
class Run:
    """Outcomes and latencies (ms) of one phase of requests."""

    name: str
    expected: int
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    offered_per_second: float | None = None  # open loop: the schedule's rate
    late_starts: int = 0  # open loop: requests the client itself started more than 10 ms after their slot
    unfinished: int = 0

    @property
    def ok(self) -> int:
        return self.outcomes.get("ok", 0)

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "name": self.name,
            "requests": sum(self.outcomes.values()),
            "ok": self.ok,
            "errors": {k: v for k, v in self.outcomes.items() if k != "ok"},
            "seconds": round(self.seconds, 2),
            "per_second": round(self.per_second, 1),
            "offered_per_second": self.offered_per_second,
            "late_starts": self.late_starts,
            "unfinished": self.unfinished,
            "p50_ms": round(percentile(lat, 0.50), 1),
            "p95_ms": round(percentile(lat, 0.95), 1),
            "p99_ms": round(percentile(lat, 0.99), 1),
            "max_ms": round(max(lat, default=0.0), 1),
        }


async def _one(http: aiohttp.ClientSession, request: Request, i: int, run: Run, since: float) -> None:
    try:
        status = await request(http, i)
    except (aiohttp.ClientError, TimeoutError) as error:
        run.outcomes[type(error).__name__] += 1
        return
    run.latencies_ms.append((time.monotonic() - since) * 1000)
    run.outcomes["ok" if status == run.expected else str(status)] += 1


async def closed_loop(
    http: aiohttp.ClientSession, request: Request, *, name: str, expected: int, concurrency: int, seconds: float,
    max_requests: int,
) -> Run:  # fmt: skip
    """``concurrency`` clients for ``seconds`` (or ``max_requests`` in all); rate = answered / elapsed."""
    run = Run(name=name, expected=expected)
    numbers = itertools.count()
    started = time.monotonic()
    deadline = started + seconds

    async def client() -> None:
        while time.monotonic() < deadline and (i := next(numbers)) < max_requests:
            await _one(http, request, i, run, time.monotonic())

    await asyncio.gather(*(client() for _ in range(concurrency)))
    run.seconds = time.monotonic() - started
    return run


async def open_loop(
    http: aiohttp.ClientSession, request: Request, *, name: str, expected: int, rate: float, seconds: float,
    max_in_flight: int,
) -> Run:  # fmt: skip
    """``rate`` requests a second for ``seconds``, evenly spaced; latency from each request's scheduled start."""
    run = Run(name=name, expected=expected, offered_per_second=round(rate, 1))
    gate = asyncio.Semaphore(max_in_flight)
    tasks: list[asyncio.Task[None]] = []

    async def scheduled(i: int, slot: float) -> None:
        async with gate:  # waiting here counts: the latency runs from the slot
            await _one(http, request, i, run, slot)

    started = time.monotonic() + 0.05
    for i in range(max(1, int(rate * seconds))):
        slot = started + i / rate
        delay = slot - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.010:
            run.late_starts += 1
        tasks.append(asyncio.ensure_future(scheduled(i, slot)))
    _, pending = await asyncio.wait(tasks, timeout=60)
    for task in pending:
        task.cancel()
    run.unfinished = len(pending)
    run.seconds = time.monotonic() - started
    return run


# --- CPU accounting -------------------------------------------------------------------------------------------------


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def _tree(pid: int, depth: int = 0) -> list[int]:
    """``pid`` and its descendants (a prefork Celery worker's pool processes), from /proc/<pid>/task/*/children."""
    pids = [pid]
    if depth < 3:
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                children = [int(x) for x in task.read_text().split()]
            except OSError:
                continue
            for child in children:
                pids += _tree(child, depth + 1)
    return pids


def lower_priority(pid: int, niceness: int) -> int:
    """Give every thread of ``pid`` and of its descendants the nice value ``niceness``; the number of threads set.

    Linux keeps the nice value per thread (``renice -p`` changes one thread only), and a thread made later inherits
    it from the thread that makes it. Raising the value needs no privilege; lowering it again would.

    With the scheduler's autogroups on (``/proc/sys/kernel/sched_autogroup_enabled``, the default on most
    distributions), a thread's nice value only ranks it among the threads of its own session: the processes here
    each start a session of their own, so the CPU is first shared out equally between the sessions whatever the
    threads' nice values. The session's own nice value (``/proc/<pid>/autogroup``) is therefore set too."""
    changed = 0
    for process in _tree(pid):
        with contextlib.suppress(OSError):
            Path(f"/proc/{process}/autogroup").write_text(f"{niceness}\n")
        for task in Path(f"/proc/{process}/task").glob("*"):
            try:
                os.setpriority(os.PRIO_PROCESS, int(task.name), niceness)
            except (OSError, ValueError):
                continue  # the thread ended meanwhile
            changed += 1
    return changed


def tree_cpu_seconds(pid: int, *, tree: bool = True) -> dict[int, float]:
    return {p: cpu_seconds(p) for p in (_tree(pid) if tree else [pid])}


class CpuMeter:
    """CPU used by each named process (with its child processes) over a phase, in % of one core, and how busy the
    whole machine was (% of all cores: on a shared machine, what is not ours is someone else's load)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.started = time.monotonic()
        self.cpu = {name: tree_cpu_seconds(pid, tree=name != CLIENT) for name, pid in pids.items()}
        self.machine = _machine_ticks()

    def read(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        used = {}
        for name, pid in self.pids.items():
            before, now = self.cpu[name], tree_cpu_seconds(pid, tree=name != CLIENT)
            used[name] = sum(now[p] - before.get(p, 0.0) for p in now) / elapsed * 100
        busy, total = _machine_ticks()
        used["machine busy (all cores)"] = (busy - self.machine[0]) / max(total - self.machine[1], 1) * 100
        return {name: round(value) for name, value in used.items()}


# --- PostgreSQL lock waits ---------------------------------------------------------------------------------------


LOCKS = """
SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) FILTER (WHERE state <> 'idle'),
       array_agg(left(query, 40)) FILTER (WHERE wait_event_type = 'Lock')
FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


class LockWatch:
    """While open, samples pg_stat_activity every 0.25 s (at most 2,000 times): how many of the database's backends
    wait for a lock, and which statements. Separate connection, so the sampling never waits behind the benchmark."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.samples = self.waiting = self.busy = self.with_waits = 0
        self.statements: Counter[str] = Counter()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LockWatch:
        self._db = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
        self._task = asyncio.ensure_future(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self._db.close()

    async def _sample(self) -> None:
        for _ in range(2000):
            if self._stop.is_set():
                return
            row = await (await self._db.execute(LOCKS)).fetchone()
            assert row is not None
            self.samples += 1
            self.waiting += int(row[0])
            self.busy += int(row[1])
            self.with_waits += 1 if row[0] else 0
            self.statements.update(" ".join(q.split()) for q in row[2] or [])
            await asyncio.sleep(0.25)

    def summary(self) -> dict[str, Any]:
        n = max(self.samples, 1)
        return {
            "samples": self.samples,
            "samples_with_lock_waits": self.with_waits,
            "mean_backends_waiting_for_a_lock": round(self.waiting / n, 2),
            "mean_backends_busy": round(self.busy / n, 2),
            "blocked_statements": dict(self.statements.most_common(3)),
        }


def locks_text(locks: dict[str, Any]) -> str:
    return (
        f"lock waits in {locks['samples_with_lock_waits']} of {locks['samples']} samples; on average "
        f"{locks['mean_backends_waiting_for_a_lock']} of {locks['mean_backends_busy']} busy backends waiting; "
        f"blocked statements {locks['blocked_statements'] or 'none'}"
    )


# --- reporting ------------------------------------------------------------------------------------------------------


def host_facts() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "commit": _git("rev-parse", "--short", "HEAD").strip(),
        # Application files changed since that commit (the benchmark measures the working tree).
        "uncommitted": [line[3:] for line in _git("status", "--porcelain").splitlines() if "bench/" not in line],
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=RESULTS.parent.parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.rstrip("\n")


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def latency_text(summary: dict[str, Any]) -> str:
    errors = ", ".join(f"{k} x{v}" for k, v in summary["errors"].items()) or "none"
    return (
        f"p50 {summary['p50_ms']:.1f} / p95 {summary['p95_ms']:.1f} / p99 {summary['p99_ms']:.1f} ms "
        f"(max {summary['max_ms']:.0f}; {summary['ok']} ok at {summary['per_second']:.0f}/s; errors: {errors})"
    )


def cpu_text(cpu: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.0f}%" for name, value in cpu.items())


def header(title: str, document: dict[str, Any]) -> str:
    host = document["host"]
    return (
        f"{title}\n"
        f"command: {document['command']}\n"
        f"date:    {document['date']}\n"
        f"machine: {host['cores']} cores ({host['cpu'] or 'unknown CPU'}), Python {host['python']}, "
        f"{host['platform']}; load average at start {host['load_average_at_start']}\n"
        f"code:    commit {host['commit'] or 'unknown'}"
        + (f", with uncommitted changes to {', '.join(host['uncommitted'])}" if host["uncommitted"] else "")
    )


def finish(document: dict[str, Any], *, name: str, report: Callable[[dict[str, Any]], str], started_at: datetime,
           started: float, tmp: Path, keep: bool) -> None:  # fmt: skip
    """The end of a benchmark run: its duration and the load average then, the printed report, the JSON written,
    the logs kept or removed."""
    document["duration_seconds"] = round(time.monotonic() - started, 1)
    document["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print("\n" + report(document))
    path = write_json(document, name, started_at)
    print(f"\ndone in {document['duration_seconds']:.0f} s; results in {path}")
    if keep:
        print(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(document: dict[str, Any], name: str, started: datetime) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{started:%Y%m%d-%H%M%S}.json"
    text = json.dumps(document, indent=2, default=str) + "\n"
    path.write_text(text)
    (RESULTS / f"{name}-latest.json").write_text(text)
    return path
