"""python -m bench.messaging: sending, the bare API, API latency and event ingest, side by side on one stack.

One gateway process (uvicorn) for the API, a second one that the worker nodes post their events to (as
docs/operations.md recommends; --single-gateway runs both on one), one Celery worker (threads pool) and two sandbox
worker nodes with sessions A and B linked, on a database and Redis prefix of their own. Phases, in this order:

  (b) GET /api/v1/whoami, closed loop: the bare authenticated endpoint, as a baseline
  (a) POST /api/v1/sessions/A/messages (A -> B), closed loop: messages accepted (202) and reaching "sent" per second,
      then the backlog drained
  (b) whoami again (after the drain), so the ratio is taken against the mean of the baseline before and after
  (c) sends, open loop at half of (a)'s sustained rate (what was accepted, or what reached "sent" when that is
      less): latency p50/p95/p99, every process at one CPU priority
  (a) and (c) again "API first": Celery, the worker nodes and their gateway at a lower CPU priority (nice, for each
      thread and for each process's scheduler group), as a deployment that gives the API's gateway the larger CPU
      share runs them; (c) at half of (a)'s sustained rate that way; then whoami at that rate
  (d) message.received events posted straight to /internal/v1/events as a registered worker: events stored per second
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

from bench.api import percentile
from bench.load import (
    CpuMeter,
    LockWatch,
    closed_loop,
    cpu_text,
    finish,
    header,
    host_facts,
    latency_text,
    locks_text,
    lower_priority,
    open_loop,
    table,
    verdict,
)
from bench.procs import free_port
from bench.stack import Stack

DATABASE, PREFIX = "bench_switchboard_messaging", "benchmsg"
A_PHONE, B_PHONE, SENDER = "+15550107001", "+15550107002", "15550107009@s.whatsapp.net"
SEND_RATE = 100_000  # A's send_rate_per_minute; SEND_RATE_MAX_PER_MINUTE is raised to match
# The per-key API limit (default 600/min) would throttle the client. A one-second window keeps DRF's throttle history
# (a list of every request time in the window, read and written on each request) as short as the default's.
API_RATE_LIMIT = "1000000/s"
RATIO_TARGET, P99_TARGET_MS = 0.5, 50.0
GATEWAYS = {
    False: "gateway = uvicorn, 1 process for the API; the workers post their events to a second one (internal)",
    True: "gateway = uvicorn, 1 process for the API and the workers' events",
}
OUTBOX = """
SELECT count(*) FILTER (WHERE status IN ('sent', 'delivered', 'read', 'played')),
       count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'failed'), count(*)
FROM sessions_app_message WHERE session_id = %s AND direction = 'out'
"""


async def outbox(db: psycopg.AsyncConnection[Any], session_id: str) -> dict[str, int]:
    row = await (await db.execute(OUTBOX, (session_id,))).fetchone()
    assert row is not None
    return dict(zip(("sent", "queued", "failed", "total"), (int(x) for x in row), strict=True))


async def drain(db: psycopg.AsyncConnection[Any], session_id: str, timeout: float) -> tuple[dict[str, int], float]:
    """Wait (bounded) until none of the session's messages is queued; the counts then and the seconds it took, or
    the counts at the timeout and -1."""
    started = time.monotonic()
    while True:
        counts = await outbox(db, session_id)
        if counts["queued"] == 0:
            return counts, time.monotonic() - started
        if time.monotonic() - started > timeout:
            return counts, -1.0
        await asyncio.sleep(0.2)


class Client:
    def __init__(self, a: str) -> None:
        self.a = a

    async def send(self, http: aiohttp.ClientSession, i: int) -> int:
        body = {"to": B_PHONE, "text": f"bench {i} {time.time():.6f}"}
        async with http.post(f"/api/v1/sessions/{self.a}/messages", json=body) as response:
            await response.read()
            return response.status

    @staticmethod
    async def whoami(http: aiohttp.ClientSession, i: int) -> int:
        async with http.get("/api/v1/whoami") as response:
            await response.read()
            return response.status


async def throughput(stack: Stack, http: aiohttp.ClientSession, db: Any, a: str, args: Any) -> dict[str, Any]:
    """(b) whoami, (a) sends at every process's one CPU priority, then whoami again: the ratio's two sides."""
    client = Client(a)
    loop = {"concurrency": args.concurrency, "seconds": args.seconds, "max_requests": 200_000}
    phases: dict[str, Any] = {}

    meter = CpuMeter(stack.processes())
    bare_before = await closed_loop(http, client.whoami, name="whoami", expected=200, **loop)
    phases["whoami before"] = meter.read()
    sends = await send_phase(stack, http, db, client, args)
    meter = CpuMeter(stack.processes())
    bare_after = await closed_loop(http, client.whoami, name="whoami", expected=200, **loop)
    phases["whoami after"] = meter.read()
    bare = (bare_before.per_second + bare_after.per_second) / 2
    return {
        **sends,
        "whoami_before": bare_before.summary(),
        "whoami_after": bare_after.summary(),
        "whoami_per_second_mean": round(bare, 1),
        **ratios(sends, bare),
        "cpu_percent": {**phases, "send": sends["cpu_percent"]},
    }


async def send_phase(stack: Stack, http: aiohttp.ClientSession, db: Any, client: Client, args: Any) -> dict[str, Any]:
    """Sends in a closed loop, then the outbox drained: messages accepted and reaching "sent" per second."""
    loop = {"concurrency": args.concurrency, "seconds": args.seconds, "max_requests": 200_000}
    before = await outbox(db, client.a)
    meter = CpuMeter(stack.processes())
    async with LockWatch(stack.database_url) as locks:
        send = await closed_loop(http, client.send, name="send", expected=202, **loop)
    cpu = meter.read()
    at_end = await outbox(db, client.a)
    drained, drain_seconds = await drain(db, client.a, args.drain_timeout)
    sent_in_window = at_end["sent"] - before["sent"]
    sent_total = drained["sent"] - before["sent"]
    sent_span = send.seconds + max(drain_seconds, 0)
    return {
        "send": send.summary(),
        "sent_per_second_in_window": round(sent_in_window / send.seconds, 1),
        "queued_at_end_of_window": at_end["queued"],
        "drain_seconds": round(drain_seconds, 2),
        "sent_per_second_including_drain": round(sent_total / sent_span, 1) if drain_seconds >= 0 else None,
        "sent_total": sent_total,
        "failed_total": drained["failed"] - before["failed"],
        "cpu_percent": cpu,
        "locks_during_send": locks.summary(),
    }


def ratios(sends: dict[str, Any], bare: float) -> dict[str, float]:
    if not bare:
        return {"ratio_send_to_bare": 0.0, "ratio_sustained_to_bare": 0.0}
    return {
        "ratio_send_to_bare": round(sends["send"]["per_second"] / bare, 3),
        "ratio_sustained_to_bare": round(sustained(sends) / bare, 3),
    }


def sustained(sends: dict[str, Any]) -> float:
    """The rate the stack keeps up: messages accepted per second, or, when fewer reached "sent" (counting the drain
    after the window), that. Above it the outbox grows without end, so it is the maximum the latency phase halves."""
    accepted = sends["send"]["per_second"]
    reached = sends["sent_per_second_including_drain"]
    return float(min(accepted, reached)) if reached is not None else float(accepted)


async def latency(stack: Stack, http: aiohttp.ClientSession, db: Any, a: str, rate: float, args: Any) -> dict[str, Any]:
    """(c) sends at ``rate`` (half of (a)'s sustained rate), every process at the same CPU priority."""
    client = Client(a)
    paced = {"rate": rate, "seconds": args.latency_seconds, "max_in_flight": 256}
    shared = await paced_sends(stack, http, db, client, paced, args)
    return {
        "rate": round(rate, 1),
        "send": shared["send"],
        "drain_seconds_after_send": shared["drain_seconds"],
        "worker_event_shipping": shared["shipping"],
        "cpu_percent": {"send": shared["cpu_percent"]},
    }


async def api_first(stack: Stack, http: aiohttp.ClientSession, db: Any, a: str, bare: float,
                    args: Any) -> dict[str, Any]:  # fmt: skip
    """(a) and (c) again "API first": Celery, the worker nodes and their gateway at a lower CPU priority, as a
    deployment that gives the API's gateway the larger CPU share runs them (docs/operations.md); (c) at half of (a)'s
    sustained rate this way; then whoami at that rate."""
    client = Client(a)
    threads = sum(lower_priority(pid, args.background_nice) for pid in stack.background().values())
    sends = await send_phase(stack, http, db, client, args)
    rate = sustained(sends) / 2
    paced = {"rate": rate, "seconds": args.latency_seconds, "max_in_flight": 256}
    paced_result = await paced_sends(stack, http, db, client, paced, args)
    meter = CpuMeter(stack.processes())
    whoami = await open_loop(http, client.whoami, name="whoami", expected=200, **paced)
    return {
        "background_nice": args.background_nice,
        "threads_lowered": threads,
        "throughput": {**sends, **ratios(sends, bare)},
        "rate": round(rate, 1),
        "latency": paced_result,
        "whoami": whoami.summary(),
        "whoami_cpu_percent": meter.read(),
    }


async def paced_sends(stack: Stack, http: aiohttp.ClientSession, db: Any, client: Client, paced: dict[str, Any],
                      args: Any) -> dict[str, Any]:  # fmt: skip
    """One open-loop send phase, then the outbox drained: latency, CPU, and how the workers shipped the events."""
    shipped_before = await worker_shipping(stack, http)
    meter = CpuMeter(stack.processes())
    send = await open_loop(http, client.send, name="send", expected=202, **paced)
    cpu = meter.read()
    _, drain_seconds = await drain(db, client.a, args.drain_timeout)
    shipped = {k: v - shipped_before.get(k, 0) for k, v in (await worker_shipping(stack, http)).items()}
    return {"send": send.summary(), "cpu_percent": cpu, "drain_seconds": round(drain_seconds, 2), "shipping": shipped}


def shipping_text(shipped: dict[str, int], messages: int) -> str:
    requests, events = shipped.get("event_requests", 0), shipped.get("events_shipped", 0)
    return (
        f"{requests} event requests for {events} events from {messages} messages "
        f"({requests / max(messages, 1):.2f} requests and {events / max(requests, 1):.1f} events per request)"
    )


async def worker_shipping(stack: Stack, http: aiohttp.ClientSession) -> dict[str, int]:
    """Event requests and events the worker nodes have shipped to the gateway so far (their /healthz), summed."""
    total: dict[str, int] = {}
    for process in stack.workers.values():
        async with http.get(f"{process.url}/healthz") as answer:
            health = await answer.json()
        for key in ("event_requests", "events_shipped"):
            total[key] = total.get(key, 0) + int(health.get(key, 0))
    return total


def received_event(session_id: str, epoch: int, n: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    wa_id = "3EB0BENCH" + uuid.uuid4().hex[:16].upper()
    data = {
        "wa_id": wa_id, "chat_jid": SENDER, "sender_jid": SENDER, "sender_phone": "+15550107009",
        "push_name": "Ingest", "type": "text", "content": {"text": f"ingest {n}"}, "media": None, "quoted": None,
        "target": None, "timestamp": now,
    }  # fmt: skip
    return {"id": str(uuid.uuid4()), "session_id": session_id, "epoch": epoch, "type": "message.received",
            "occurred_at": now, "data": data}  # fmt: skip


async def ingest(stack: Stack, http: aiohttp.ClientSession, db: Any, args: Any) -> dict[str, Any]:
    """Register a worker identity of our own, get a session placed on it (the real workers are full), report it
    connected, then post batches of message.received events one at a time, as a worker ships its spool."""
    profile = {"enrollment_token": stack.spare_enrollment_token, "name": "bench-ingest", "engine": "sandbox",
               "advertise_url": f"http://127.0.0.1:{free_port()}", "capacity": 1, "version": "bench"}  # fmt: skip
    # Without the API key: a bearer token on this path means "re-register the worker that holds it".
    async with (
        aiohttp.ClientSession(base_url=stack.gateway_url) as bare,
        bare.post("/internal/v1/workers/register", json=profile) as response,
    ):
        registered = await response.json()
        if response.status != 201:
            raise RuntimeError(f"worker registration: {response.status} {registered}")
    worker = {"Authorization": f"Bearer {registered['worker_token']}"}
    async with http.post("/api/v1/sessions", json={"name": "C (ingest)"}) as response:
        session_id = str((await response.json())["id"])
    row = await (
        await db.execute("SELECT worker_id, epoch FROM sessions_app_whatsappsession WHERE id = %s", (session_id,))
    ).fetchone()
    if row is None or str(row[0]) != registered["worker_id"]:
        raise RuntimeError(f"session C was not placed on the benchmark's worker: {row}")
    epoch = int(row[1])
    connected = {"id": str(uuid.uuid4()), "session_id": session_id, "epoch": epoch, "type": "session.state",
                 "occurred_at": datetime.now(UTC).isoformat(),
                 "data": {"state": "connected", "reason": "", "account": {"phone": "+15550107003",
                          "jid": "15550107003:1@s.whatsapp.net", "push_name": "C"}}}  # fmt: skip
    async with http.post("/internal/v1/events", json={"events": [connected]}, headers=worker) as response:
        if response.status != 200 or not (await response.json())["accepted"]:
            raise RuntimeError(f"the connected event was not accepted: {response.status}")

    batch_ms: list[float] = []
    accepted = duplicates = rejected = sent = 0
    meter = CpuMeter(stack.processes())
    started = time.monotonic()
    for _ in range(args.max_batches):
        if time.monotonic() - started >= args.ingest_seconds:
            break
        events = [received_event(session_id, epoch, sent + k) for k in range(args.batch)]
        sent += len(events)
        t = time.monotonic()
        async with http.post("/internal/v1/events", json={"events": events}, headers=worker) as response:
            answer = await response.json()
            if response.status != 200:
                raise RuntimeError(f"an event batch was refused: {response.status} {answer}")
        batch_ms.append((time.monotonic() - t) * 1000)
        accepted += len(answer["accepted"])
        duplicates += len(answer["duplicates"])
        rejected += len(answer["rejected"])
    seconds = time.monotonic() - started
    cpu = meter.read()
    stored = await (
        await db.execute(
            "SELECT (SELECT count(*) FROM sessions_app_sessionevent WHERE session_id = %(s)s AND type = "
            "'message.received'), (SELECT count(*) FROM sessions_app_message WHERE session_id = %(s)s AND direction "
            "= 'in')",
            {"s": session_id},
        )
    ).fetchone()
    assert stored is not None
    return {
        "batch_size": args.batch,
        "batches": len(batch_ms),
        "events_posted": sent,
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": rejected,
        "seconds": round(seconds, 2),
        "events_per_second": round(accepted / seconds, 1) if seconds else 0.0,
        "batch_p50_ms": round(percentile(batch_ms, 0.5), 1),
        "batch_p95_ms": round(percentile(batch_ms, 0.95), 1),
        "stored_session_events": int(stored[0]),
        "stored_messages": int(stored[1]),
        "cpu_percent": cpu,
    }


def start_pipeline(stack: Stack, *, single_gateway: bool, celery_concurrency: int, **worker_env: str) -> str:
    """Start the gateway(s), Celery and two worker nodes of one session each, and link A and B; A's id."""
    stack.start_gateway()
    if not single_gateway:
        stack.start_internal_gateway()
    stack.start_celery(pool="threads", concurrency=celery_concurrency)
    stack.start_worker("w1", WORKER_CAPACITY="1", **worker_env)
    stack.start_worker("w2", WORKER_CAPACITY="1", **worker_env)
    with stack.client() as api:
        a = stack.link(api, "A", A_PHONE, send_rate_per_minute=SEND_RATE)
        stack.link(api, "B", B_PHONE, send_rate_per_minute=SEND_RATE)
    return a


@contextlib.asynccontextmanager
async def warmed_up(
    stack: Stack, a: str, drain_timeout: float
) -> AsyncIterator[tuple[aiohttp.ClientSession, psycopg.AsyncConnection[Any]]]:
    """An API client with the stack's key and a database connection, once a warm-up (imports, connections) of both
    endpoints has run and its messages have drained."""
    assert stack.gateway is not None
    connector = aiohttp.TCPConnector(limit=300, keepalive_timeout=2)
    async with (
        aiohttp.ClientSession(
            base_url=stack.gateway.url, connector=connector, timeout=aiohttp.ClientTimeout(total=30),
            headers={"Authorization": f"Bearer {stack.api_key}"},
        ) as http,
        await psycopg.AsyncConnection.connect(stack.database_url, autocommit=True) as db,
    ):  # fmt: skip
        client = Client(a)
        for request, expected in ((client.whoami, 200), (client.send, 202)):
            await closed_loop(http, request, name="warm-up", expected=expected, concurrency=4, seconds=3,
                              max_requests=40)  # fmt: skip
        await drain(db, a, drain_timeout)
        yield http, db


async def measure(stack: Stack, a: str, args: Any) -> dict[str, Any]:
    async with warmed_up(stack, a, args.drain_timeout) as (http, db):
        print("  (a)+(b) throughput …", flush=True)
        result: dict[str, Any] = {"throughput": await throughput(stack, http, db, a, args)}
        rate = sustained(result["throughput"]) / 2
        print(f"  (c) latency at {rate:.0f}/s …", flush=True)
        result["latency"] = await latency(stack, http, db, a, rate, args)
        print("  (a)+(c) again, API first …", flush=True)
        result["api_first"] = await api_first(stack, http, db, a, result["throughput"]["whoami_per_second_mean"], args)
        print("  (d) event ingest …", flush=True)
        result["ingest"] = await ingest(stack, http, db, args)
        return result


def _sent_rows(label: str, t: dict[str, Any], s: dict[str, Any]) -> list[list[str]]:
    send = t["send"]
    drained = (
        f"all {t['sent_total']} sent {t['drain_seconds']:.1f} s after the window"
        if t["drain_seconds"] >= 0
        else f"NOT drained within {s['drain_timeout']:.0f} s"
    )
    return [
        [f"(a) send{label}: accepted (202)", f"{send['per_second']:.0f}/s over {send['seconds']:.0f} s, "
         f"{s['concurrency']} in flight ({latency_text(send)})", "", ""],
        [f"(a) send{label}: reaching sent, in the window", f"{t['sent_per_second_in_window']:.0f}/s; "
         f"{t['queued_at_end_of_window']} still queued at the end", "", ""],
        [f"(a) send{label}: reaching sent, incl. drain", f"{t['sent_per_second_including_drain'] or 0:.0f}/s; "
         f"{drained} (failed: {t['failed_total']})", "", ""],
    ]  # fmt: skip


def _ratio_row(label: str, sends: dict[str, Any]) -> list[str]:
    """Accepted sends against whoami, and the sustained rate (accepted and reaching "sent") against it: the target
    is checked on the lesser."""
    accepted, kept = sends["ratio_send_to_bare"], sends["ratio_sustained_to_bare"]
    return [
        label,
        f"{accepted:.2f} accepted, {kept:.2f} sustained",
        f">= {RATIO_TARGET}",
        verdict(kept >= RATIO_TARGET),
    ]


def _latency_row(label: str, run: dict[str, Any]) -> list[str]:
    passed = run["p99_ms"] < P99_TARGET_MS and not run["errors"]
    return [label, latency_text(run), f"p99 < {P99_TARGET_MS:.0f} ms", verdict(passed)]


def report(document: dict[str, Any]) -> str:
    s = document["settings"]
    if "results" not in document:
        return header("Switchboard messaging benchmark", document) + f"\nFAILED: {document.get('error')}"
    t, lat, first, ing = (document["results"][k] for k in ("throughput", "latency", "api_first", "ingest"))
    first_t, nice = first["throughput"], first["background_nice"]
    rows = [
        *_sent_rows("", t, s),
        ["(a) PostgreSQL during send", locks_text(t["locks_during_send"]), "", ""],
        ["(b) whoami (bare DRF endpoint)", f"{t['whoami_before']['per_second']:.0f}/s before, "
         f"{t['whoami_after']['per_second']:.0f}/s after (mean {t['whoami_per_second_mean']:.0f}/s)", "", ""],
        _ratio_row("(b) ratio send / bare", t),
        _latency_row(f"(c) send latency at {lat['rate']:.0f}/s (half of (a) sustained)", lat["send"]),
        ["(c) workers -> gateway", shipping_text(lat.get("worker_event_shipping", {}), lat["send"]["ok"]), "", ""],
        *_sent_rows(f", API first (the rest at nice {nice})", first_t, s),
        _ratio_row("(b) ratio send / bare, API first", first_t),
        _latency_row(f"(c) send latency at {first['rate']:.0f}/s (half of (a) sustained), API first",
                     first["latency"]["send"]),
        _latency_row(f"(c) whoami latency at {first['rate']:.0f}/s", first["whoami"]),
        ["(d) ingest: message.received stored", f"{ing['events_per_second']:.0f} events/s ({ing['accepted']} in "
         f"{ing['seconds']:.1f} s; batches of {ing['batch_size']}, one in flight, p50 {ing['batch_p50_ms']:.0f} ms, "
         f"p95 {ing['batch_p95_ms']:.0f} ms)", "", ""],
        ["(d) ingest: in the database", f"{ing['stored_session_events']} session events, "
         f"{ing['stored_messages']} messages; rejected {ing['rejected']}, duplicates {ing['duplicates']}", "", ""],
    ]  # fmt: skip
    cpu = [
        ["CPU % (of one core) during (b) whoami", cpu_text(t["cpu_percent"]["whoami before"])],
        ["CPU % during (a) send", cpu_text(t["cpu_percent"]["send"])],
        [f"CPU % during (c) send at {lat['rate']:.0f}/s", cpu_text(lat["cpu_percent"]["send"])],
        ["CPU % during (a) send, API first", cpu_text(first_t["cpu_percent"])],
        [f"CPU % during (c) send at {first['rate']:.0f}/s, API first", cpu_text(first["latency"]["cpu_percent"])],
        ["CPU % during (d) ingest", cpu_text(ing["cpu_percent"])],
    ]
    notes = (
        f"stack: {GATEWAYS[bool(s.get('single_gateway'))]}; Celery {s['celery']}; 2 sandbox worker nodes "
        f"(A and B on different ones); PostgreSQL and Redis on this machine; API_RATE_LIMIT={API_RATE_LIMIT}, "
        f'SEND_RATE_MAX_PER_MINUTE={SEND_RATE} (A sends at up to {SEND_RATE}/min). "API first": Celery, the worker '
        f"nodes and the workers' gateway at nice {nice}, each thread and each process's scheduler group (autogroup); "
        "PostgreSQL and Redis stay at one priority. Latency is counted from each request's scheduled start (open "
        f"loop). Load average at the end {document.get('load_average_at_end')}."
    )
    return "\n".join([
        header("Switchboard messaging benchmark", document), "",
        table(["figure", "measured", "target", "verdict"], rows), "",
        table(["where the CPU went", "process: % of one core"], cpu), "", notes,
    ])  # fmt: skip


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.messaging", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="each throughput phase (default 20)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight in (a) and (b) (default 8)")
    parser.add_argument("--latency-seconds", type=float, default=15.0, help="each latency phase (default 15)")
    parser.add_argument("--ingest-seconds", type=float, default=15.0, help="the ingest phase (default 15)")
    parser.add_argument("--batch", type=int, default=200, help="events per ingest batch (default 200)")
    parser.add_argument("--max-batches", type=int, default=2000, help="bound on ingest batches")
    parser.add_argument("--celery-concurrency", type=int, default=8, help="Celery threads (default 8)")
    parser.add_argument("--drain-timeout", type=float, default=120.0, help="waiting for the outbox to empty")
    parser.add_argument("--keep", action="store_true", help="keep the folder with the processes' logs")
    parser.add_argument(
        "--background-nice", type=int, default=10,
        help="nice value of Celery, the worker nodes and their gateway in the API-first runs (default 10)",
    )  # fmt: skip
    parser.add_argument(
        "--single-gateway", action="store_true",
        help="one gateway process for the API and the workers' events (default: the workers use a second one)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not (1 <= args.seconds <= 300 and 1 <= args.latency_seconds <= 300 and 1 <= args.ingest_seconds <= 300):
        parser.error("phases last 1 to 300 seconds")
    if not (1 <= args.concurrency <= 256 and 1 <= args.celery_concurrency <= 64 and 1 <= args.batch <= 1000):
        parser.error("--concurrency 1-256, --celery-concurrency 1-64, --batch 1-1000")
    if not 1 <= args.background_nice <= 19:
        parser.error("--background-nice 1-19")
    if not (1 <= args.max_batches <= 100_000 and 5 <= args.drain_timeout <= 600):
        parser.error("--max-batches 1-100000, --drain-timeout 5-600")
    return args


def _overrun(signum: int, frame: Any) -> None:
    raise TimeoutError("the benchmark overran its overall time limit")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started_at, started = datetime.now(UTC), time.monotonic()
    document: dict[str, Any] = {
        "date": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.messaging", *argv]),
        "host": host_facts(),
        "settings": {
            **vars(args),
            "celery": f"threads, concurrency {args.celery_concurrency}",
            "api_rate_limit": API_RATE_LIMIT,
            "send_rate_max_per_minute": SEND_RATE,
        },
    }
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-messaging-"))
    print(f"Switchboard messaging benchmark, {document['date']} (logs in {tmp})", flush=True)
    signal.signal(signal.SIGALRM, _overrun)
    signal.alarm(int(4 * args.seconds + 3 * args.latency_seconds + args.ingest_seconds + 4 * args.drain_timeout + 300))
    stack: Stack | None = None
    failed = False
    try:
        stack = Stack.prepare(database=DATABASE, prefix=PREFIX, tmp=tmp, API_RATE_LIMIT=API_RATE_LIMIT,
                              SEND_RATE_MAX_PER_MINUTE=str(SEND_RATE))  # fmt: skip
        a = start_pipeline(stack, single_gateway=args.single_gateway, celery_concurrency=args.celery_concurrency)
        print(f"  stack up in {time.monotonic() - started:.0f} s", flush=True)
        document["results"] = asyncio.run(measure(stack, a, args))
    except Exception as error:
        failed = True
        document["error"], document["traceback"] = repr(error), traceback.format_exc()
        print(traceback.format_exc(), file=sys.stderr, flush=True)
    finally:
        signal.alarm(0)
        if stack is not None:
            stack.close()
    finish(
        document,
        name="messaging",
        report=report,
        started_at=started_at,
        started=started,
        tmp=tmp,
        keep=args.keep or failed,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
