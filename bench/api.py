"""A bounded-concurrency client for the public sessions API, with latency bookkeeping."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRIES = 3  # per request, on a transport error, 429 or 5xx


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Calls:
    """Latencies (ms) and outcomes of one batch of concurrent calls."""

    latencies_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        ok = self.outcomes.get("ok", 0)
        return {
            "calls": sum(self.outcomes.values()),
            "ok": ok,
            "failed": {k: v for k, v in self.outcomes.items() if k != "ok"},
            "retries": self.retries,
            "seconds": round(self.seconds, 2),
            "per_second": round(ok / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(percentile(self.latencies_ms, 0.5), 1),
            "p95_ms": round(percentile(self.latencies_ms, 0.95), 1),
            "max_ms": round(max(self.latencies_ms, default=0.0), 1),
        }


class Api:
    def __init__(self, base_url: str, api_key: str, *, pool: int) -> None:
        self.pool = pool
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(30.0),
            limits=httpx.Limits(max_connections=pool + 2, max_keepalive_connections=pool + 2),
        )
        self.list_ms: list[float] = []

    async def close(self) -> None:
        await self.client.aclose()

    async def _post(self, path: str, body: dict[str, Any], calls: Calls) -> dict[str, Any] | None:
        for attempt in range(RETRIES + 1):
            started = time.monotonic()
            try:
                response = await self.client.post(path, json=body)
            except httpx.HTTPError as error:
                outcome = f"transport:{type(error).__name__}"
            else:
                calls.latencies_ms.append((time.monotonic() - started) * 1000)
                if response.status_code < 300:
                    calls.outcomes["ok"] += 1
                    answer: dict[str, Any] = response.json()
                    return answer
                code = ""
                if response.headers.get("content-type", "").startswith("application/json"):
                    code = str(response.json().get("error", {}).get("code", ""))
                outcome = f"{response.status_code}:{code}"
                if response.status_code != 429 and response.status_code < 500:
                    calls.outcomes[outcome] += 1
                    return None
            if attempt == RETRIES:
                calls.outcomes[outcome] += 1
                return None
            calls.retries += 1
            await asyncio.sleep(0.5 * (attempt + 1))
        return None

    async def post_many(
        self, items: list[tuple[str, dict[str, Any]]], *, timeout: float
    ) -> tuple[Calls, list[dict[str, Any] | None]]:
        """POST each (path, body) with at most ``pool`` in flight; stops waiting after ``timeout`` seconds."""
        calls = Calls()
        gate = asyncio.Semaphore(self.pool)

        async def one(path: str, body: dict[str, Any]) -> dict[str, Any] | None:
            async with gate:
                return await self._post(path, body, calls)

        started = time.monotonic()
        tasks = [asyncio.ensure_future(one(path, body)) for path, body in items]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            calls.outcomes["unfinished"] += len(pending)
        calls.seconds = time.monotonic() - started
        return calls, [task.result() if task in done and not task.cancelled() else None for task in tasks]

    async def list_sessions(self, max_pages: int) -> list[dict[str, Any]]:
        """Every session of the workspace, 200 a page (the API's maximum), following the cursor."""
        started = time.monotonic()
        sessions: list[dict[str, Any]] = []
        url: str | None = "/sessions?page_size=200"
        for _ in range(max_pages):
            if url is None:
                break
            response = await self.client.get(url)
            response.raise_for_status()
            page = response.json()
            sessions.extend(page["results"])
            url = page.get("next")
        self.list_ms.append((time.monotonic() - started) * 1000)
        return sessions

    async def wait_for_all(
        self,
        ids: set[str],
        predicate: Callable[[dict[str, Any]], bool],
        *,
        timeout: float,
        stall: float = 60.0,
        interval: float = 0.5,
    ) -> Waited:
        """Poll the list until every session in ``ids`` satisfies ``predicate``; give up after ``timeout`` seconds, or
        after ``stall`` seconds in which no more sessions came to satisfy it."""
        started = time.monotonic()
        pages = len(ids) // 200 + 5
        waited = Waited(seconds=None, total=len(ids))
        progress_at = started
        while (now := time.monotonic()) - started < timeout:
            if now - progress_at > stall:
                waited.stalled = True
                break
            try:
                sessions = [s for s in await self.list_sessions(pages) if s["id"] in ids]
            except httpx.HTTPError:
                await asyncio.sleep(interval)
                continue
            waited.states = Counter(s["state"] for s in sessions)
            done = sum(1 for s in sessions if predicate(s))
            if done > waited.done:
                waited.done, progress_at = done, time.monotonic()
            if done == len(ids):
                waited.seconds = time.monotonic() - started
                break
            await asyncio.sleep(interval)
        return waited


@dataclass
class Waited:
    seconds: float | None  # None: not all got there
    total: int
    done: int = 0
    stalled: bool = False
    states: Counter[str] = field(default_factory=Counter)

    def describe(self) -> dict[str, Any]:
        return {
            "seconds": None if self.seconds is None else round(self.seconds, 2),
            "reached": f"{self.done}/{self.total}",
            "stalled": self.stalled,
            "states": dict(self.states),
        }
