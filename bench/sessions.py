"""Benchmark 1: how many sandbox sessions one worker holds, and what they cost.

Creates N sessions through the public API (bounded concurrency), waits until every one shows a QR code, "scans" each
through the sandbox scan endpoint, and waits until all are connected. Measures the API's create and scan throughput,
the time to connected, and the worker's RSS before any session and after all are connected. Then restarts the
worker process (SIGTERM, start again on the same data folder) and measures the time until all N are connected again
without a scan, restored from their local stores, and the RSS after.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.api import Api, percentile
from bench.dbstats import ingest_stats
from bench.deployment import Deployment
from bench.procs import Process, cpu_seconds, peak_mb, rss_mb

ENROLLED = "enrolled as worker"
REREGISTERED = "re-registered as worker"


@dataclass(frozen=True)
class SandboxOptions:
    sessions: int
    pool: int
    phase_timeout: float  # each waiting phase gives up after this many seconds
    settle_seconds: float  # memory is read after the process has been quiet this long
    idle_seconds: float  # then read again after this much idle time, to see growth
    qr_schedule: str
    worker_redis: bool  # False: the worker runs without REDIS_URL (its sandbox numbers then stay inside it)


async def settled_rss(pid: int, seconds: float) -> float:
    """RSS (MB) after ``seconds`` of sampling: the median of the last few samples, so one GC spike does not count."""
    samples: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(rss_mb(pid))
        await asyncio.sleep(0.25)
    samples.append(rss_mb(pid))
    return round(statistics.median(samples[-5:]), 1)


class HostedSampler:
    """Samples (sessions the worker hosts, its RSS) twice a second through its unauthenticated /healthz."""

    def __init__(self, api: Api, worker: Process) -> None:
        self.api, self.worker = api, worker
        self.samples: list[tuple[int, float]] = []

    async def run(self, max_polls: int = 10_000) -> None:
        for _ in range(max_polls):
            try:
                response = await self.api.client.get(f"{self.worker.url}/healthz", timeout=5)
                self.samples.append((int(response.json()["sessions"]), rss_mb(self.worker.pid)))
            except Exception:  # noqa: S110 - a missed sample is fine
                pass
            await asyncio.sleep(0.5)

    def marginal_kb(self, total: int, rss_at_total: float) -> float | None:
        """KB per session from a quarter of ``total`` hosted to all of them: one-time warm-up (lazy imports, thread
        pools, the Redis client) happens with the first sessions and is left out."""
        first = next(((h, r) for h, r in self.samples if h >= max(total // 4, 1)), None)
        if first is None or total - first[0] <= 0:
            return None
        return round((rss_at_total - first[1]) * 1024 / (total - first[0]), 1)


def connected_since(moment: datetime) -> Any:
    def check(session: dict[str, Any]) -> bool:
        if session["state"] != "connected":
            return False
        return datetime.fromisoformat(session["state_changed_at"].replace("Z", "+00:00")) >= moment

    return check


def log_problems(process: Process | None) -> dict[str, int]:
    if process is None:
        return {}
    text = process.log(tail=5_000_000)
    return {
        "errors": text.count(" ERROR "),
        "warnings": text.count(" WARNING "),
        "tracebacks": text.count("Traceback (most recent call last)"),
    }


async def run_sandbox(deployment: Deployment, options: SandboxOptions) -> dict[str, Any]:
    n = options.sessions
    waits: dict[str, Any] = {}
    result: dict[str, Any] = {
        "sessions": n,
        "pool": options.pool,
        "qr_schedule": options.qr_schedule,
        "worker_redis": options.worker_redis,
        "waits": waits,
    }
    gateway = deployment.gateway
    assert gateway is not None
    worker_extra = {
        "WORKER_CAPACITY": str(max(2 * n, 100)),
        "WORKER_ENGINE": "sandbox",
        "SANDBOX_QR_SCHEDULE": options.qr_schedule,
    }
    if not options.worker_redis:
        worker_extra["REDIS_URL"] = ""
    worker, register_s = await asyncio.to_thread(deployment.start_worker, "w1", ready_text=ENROLLED, **worker_extra)
    result["worker_register_seconds"] = round(register_s, 2)
    worker_before = await settled_rss(worker.pid, options.settle_seconds)
    gateway_before = await settled_rss(gateway.pid, 0.5)
    limit = options.phase_timeout

    api = Api(gateway.url, deployment.api_key, pool=options.pool)
    try:
        sampler = HostedSampler(api, worker)
        sampling = asyncio.ensure_future(sampler.run())
        # 1. create N sessions
        t0 = time.monotonic()
        calls, created = await api.post_many(
            [("/sessions", {"name": f"bench-{i:05d}"}) for i in range(n)], timeout=limit
        )
        result["create"] = calls.summary()
        order = [answer["id"] for answer in created if answer]
        ids = set(order)
        result["created"] = len(ids)

        # 2. every one shows a QR code
        waited = await api.wait_for_all(ids, lambda s: s["state"] == "scan_qr", timeout=limit)
        waits["scan_qr"] = waited.describe()
        result["all_scan_qr_seconds"] = since(t0, waited.seconds)
        sampling.cancel()
        worker_pairing = await settled_rss(worker.pid, options.settle_seconds)
        marginal_pairing = sampler.marginal_kb(len(ids), worker_pairing)

        # 3. scan each (in creation order, sessions not showing a QR are refused with 409); 4. all connected
        t_scan = time.monotonic()
        scans = [
            (f"/sessions/{sid}/sandbox/scan", {"phone": f"+155501{i:05d}", "push_name": f"Bench {i}"})
            for i, sid in enumerate(order)
        ]
        calls, _ = await api.post_many(scans, timeout=limit)
        result["scan"] = calls.summary()
        waited = await api.wait_for_all(ids, lambda s: s["state"] == "connected", timeout=limit)
        waits["connected"] = waited.describe()
        result["connected_after_first_scan_seconds"] = since(t_scan, waited.seconds)
        result["connected_after_first_create_seconds"] = since(t0, waited.seconds)
        connected = result["connected"] = waited.states.get("connected", 0)
        waited = await api.wait_for_all(ids, lambda s: bool(s["has_snapshot"]), timeout=limit)
        waits["snapshots"] = waited.describe()
        result["all_snapshots_seconds"] = since(t_scan, waited.seconds)

        worker_after = await settled_rss(worker.pid, options.settle_seconds)
        gateway_after = await settled_rss(gateway.pid, 0.5)
        # Idle: nothing but heartbeats (every second) for all N sessions. CPU share and memory growth.
        cpu_before = {pid: cpu_seconds(pid) for pid in (worker.pid, gateway.pid)}
        idle_started = time.monotonic()
        await asyncio.sleep(options.idle_seconds)
        idle = max(time.monotonic() - idle_started, 0.001)
        idle_cpu = {pid: round(100 * (cpu_seconds(pid) - cpu_before[pid]) / idle, 1) for pid in cpu_before}
        worker_idle = await settled_rss(worker.pid, 1.0)
        gateway_idle = await settled_rss(gateway.pid, 0.5)
        result["worker_memory"] = {
            "rss_before_mb": worker_before,
            "rss_scan_qr_mb": worker_pairing,
            "rss_connected_mb": worker_after,
            "peak_mb": peak_mb(worker.pid),
            "kb_per_session": round((worker_after - worker_before) * 1024 / connected, 1) if connected else None,
            "marginal_kb_per_pairing_session": marginal_pairing,
            "kb_per_session_to_connect": round((worker_after - worker_pairing) * 1024 / connected, 1)
            if connected
            else None,
            "rss_after_idle_mb": worker_idle,
            "idle_seconds": options.idle_seconds,
            "idle_cpu_percent": idle_cpu[worker.pid],
        }
        result["gateway_memory"] = {
            "rss_before_mb": gateway_before,
            "rss_connected_mb": gateway_after,
            "rss_after_idle_mb": gateway_idle,
            "peak_mb": peak_mb(gateway.pid),
            "idle_cpu_percent": idle_cpu[gateway.pid],
        }
        result["list_all_ms_p50"] = round(percentile(api.list_ms[-20:], 0.5), 1)

        # 5. restart the worker process on the same data folder: all N connect again without a scan
        result["restart"] = await restart(deployment, api, worker, ids, worker_extra, limit)
    finally:
        await api.close()
    restarted = result.get("restart", {}).get("started_at")
    split = datetime.fromisoformat(restarted) if restarted else None
    result["ingest"] = ingest_stats(deployment.env["DATABASE_URL"], split)
    result["log_problems"] = {
        "gateway": log_problems(deployment.gateway),
        "worker (first run)": log_problems(worker),
        "worker (restarted)": log_problems(deployment.workers.get("w1")),
    }
    return result


def since(start: float, waited: float | None) -> float | None:
    """Seconds from ``start`` until now, or None when the wait that just ended did not get there."""
    return None if waited is None else round(time.monotonic() - start, 2)


async def restart(
    deployment: Deployment, api: Api, worker: Process, ids: set[str], worker_extra: dict[str, str], limit: float
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    shutdown_s, code = await asyncio.to_thread(worker.stop, 120.0)
    deployment.workers.pop("w1", None)
    out["shutdown_seconds"] = round(shutdown_s, 2)
    out["exit_code"] = code
    # A clean shutdown tells the gateway, which parks the sessions as pending until a worker takes them.
    waited = await api.wait_for_all(ids, lambda s: s["state"] != "connected", timeout=min(30.0, limit))
    out["released_seconds"] = None if waited.seconds is None else round(waited.seconds, 2)
    out["states_while_down"] = dict(waited.states)

    moment = datetime.now(UTC)
    out["started_at"] = moment.isoformat()
    t_start = time.monotonic()
    again, register_s = await asyncio.to_thread(deployment.start_worker, "w1", ready_text=REREGISTERED, **worker_extra)
    out["register_seconds"] = round(register_s, 2)
    waited = await api.wait_for_all(ids, connected_since(moment), timeout=limit)
    out["wait"] = waited.describe()
    out["all_connected_seconds"] = since(t_start, waited.seconds)
    out["rss_connected_mb"] = await settled_rss(again.pid, 3.0)
    out["peak_mb"] = peak_mb(again.pid)
    # 0 expected: the local stores survive a restart, so nothing comes back from object storage
    out["restored_from_object_storage"] = again.log(tail=5_000_000).count("restored from its snapshot")
    return out
