"""python -m bench.webhooks: webhook deliveries per second and inbound-message-to-webhook latency, on one stack.

One gateway (uvicorn, one process), a Celery worker and two sandbox worker nodes with sessions A and B linked, on a
database and Redis prefix of their own, and a receiver on 127.0.0.1 in this process that answers 200 at once
(ALLOW_PRIVATE_NETWORK_TARGETS=true lets the endpoints point at loopback). Phases, in this order:

  (b) A sends to B at a moderate rate, open loop, each text carrying its send time; an endpoint for B's
      message.received gets the events: latency = arrival at the receiver - send time at A, split into its stages
  (a) webhook.test events requested through the API as fast as it takes them, Celery running: deliveries per second
      until every one arrived; then, per Celery pool and concurrency, a backlog created with Celery stopped and
      drained by a fresh Celery worker: its delivery rate alone
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
import traceback
import uuid
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
    locks_text,
    open_loop,
    table,
    verdict,
)
from bench.receiver import Receiver, verify
from bench.stack import Stack

DATABASE, PREFIX = "bench_switchboard_webhooks", "benchhook"
A_PHONE, B_PHONE = "+15550108001", "+15550108002"
SEND_RATE = 6000  # A's pacing must not be what is measured
API_RATE_LIMIT = "1000000/s"  # see bench/messaging.py
P50_TARGET_MS, P99_TARGET_MS = 100.0, 500.0


def stats(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.5), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "max_ms": round(max(values, default=0.0), 1),
    }


STAGES = """
SELECT e.data->>'wa_id', extract(epoch FROM e.occurred_at), extract(epoch FROM e.received_at),
       extract(epoch FROM m.created_at), extract(epoch FROM m.sent_at)
FROM sessions_app_sessionevent e
LEFT JOIN sessions_app_message m ON m.session_id = %(a)s AND m.wa_id = e.data->>'wa_id'
WHERE e.session_id = %(b)s AND e.type = 'message.received'
"""


async def inbound_latency(stack: Stack, http: aiohttp.ClientSession, db: Any, receiver: Receiver, a: str, b: str,
                          args: Any) -> dict[str, Any]:  # fmt: skip
    async with http.post("/api/v1/webhooks", json={"url": receiver.url("/inbound"), "session_ids": [b],
                                                    "event_types": ["message.received"]}) as response:  # fmt: skip
        endpoint = await response.json()
        if response.status != 201:
            raise RuntimeError(f"creating the endpoint: {response.status} {endpoint}")

    async def send(client: aiohttp.ClientSession, i: int) -> int:
        body = {"to": B_PHONE, "text": f"latency {i} {time.time():.6f}"}
        async with client.post(f"/api/v1/sessions/{a}/messages", json=body) as answer:
            await answer.read()
            return answer.status

    since = len(receiver.hits)
    meter = CpuMeter(stack.processes())
    async with LockWatch(stack.database_url) as locks:
        sent = await open_loop(http, send, name="send", expected=202, rate=args.rate, seconds=args.latency_seconds,
                               max_in_flight=64)  # fmt: skip
        arrived_all = await receiver.wait_for("/inbound", sent.ok, since=since, timeout=args.wait_timeout)
    cpu = meter.read()
    arrivals = receiver.distinct("/inbound", since)
    rows = {row[0]: row for row in await (await db.execute(STAGES, {"a": a, "b": b})).fetchall()}
    total: list[float] = []
    from_emit: list[float] = []
    stages: dict[str, list[float]] = {k: [] for k in ("api", "dispatch", "network", "ingest", "delivery")}
    for hit in arrivals.values():
        envelope = json.loads(hit.body)
        _, _, sent_at = envelope["data"]["content"]["text"].split()
        total.append((hit.at - float(sent_at)) * 1000)
        row = rows.get(envelope["data"]["wa_id"])
        if row is None or None in row:
            continue
        emitted, stored, created, left = (float(x) for x in row[1:])
        from_emit.append((hit.at - emitted) * 1000)
        stages["api"].append((created - float(sent_at)) * 1000)
        stages["dispatch"].append((left - created) * 1000)
        stages["network"].append((emitted - left) * 1000)
        stages["ingest"].append((stored - emitted) * 1000)
        stages["delivery"].append((hit.at - stored) * 1000)
    return {
        "rate": args.rate,
        "send": sent.summary(),
        "all_arrived": arrived_all,
        "arrived": len(arrivals),
        "duplicates": sum(1 for h in receiver.hits[since:] if h.path == "/inbound") - len(arrivals),
        "refused_signatures": verify(endpoint["secret"], list(arrivals.values())),
        "total": stats(total),
        "from_b_worker_emit": stats(from_emit),
        "stages": {name: stats(values) for name, values in stages.items()},
        "locks": locks.summary(),
        "cpu_percent": cpu,
    }


DELIVERIES = """
SELECT d.status, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY a.latency_ms),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY a.latency_ms)
FROM sessions_app_delivery d LEFT JOIN sessions_app_deliveryattempt a ON a.delivery_id = d.id
WHERE d.endpoint_id = %s GROUP BY d.status
"""


async def delivery_rates(stack: Stack, http: aiohttp.ClientSession, db: Any, receiver: Receiver,
                         args: Any) -> dict[str, Any]:  # fmt: skip
    # Test events ignore the filters; a session filter that matches nothing keeps every other event away.
    fields = {"url": receiver.url("/test"), "session_ids": [str(uuid.uuid4())]}
    async with http.post("/api/v1/webhooks", json=fields) as response:
        endpoint = await response.json()
        if response.status != 201:
            raise RuntimeError(f"creating the endpoint: {response.status} {endpoint}")

    async def request_test(client: aiohttp.ClientSession, i: int) -> int:
        async with client.post(f"/api/v1/webhooks/{endpoint['id']}/test") as answer:
            await answer.read()
            return answer.status

    async def create() -> Any:
        return await closed_loop(http, request_test, name="webhook.test", expected=202, concurrency=args.concurrency,
                                 seconds=args.wait_timeout, max_requests=args.events)  # fmt: skip

    # Celery running while the events are requested: the end-to-end rate.
    since, started = len(receiver.hits), time.time()
    meter = CpuMeter(stack.processes())
    async with LockWatch(stack.database_url) as locks:
        created = await create()
        arrived_all = await receiver.wait_for("/test", created.ok, since=since, timeout=args.wait_timeout)
    arrivals = receiver.distinct("/test", since)
    span = max((h.at for h in arrivals.values()), default=started) - started
    live = {
        "celery": stack.celery_pool,
        "requested": created.summary(),
        "arrived": len(arrivals),
        "all_arrived": arrived_all,
        "seconds": round(span, 2),
        "deliveries_per_second": round(len(arrivals) / span, 1) if span > 0 else 0.0,
        "locks": locks.summary(),
        "cpu_percent": meter.read(),
    }
    # A backlog, created with Celery stopped, drained by a fresh worker: the delivery rate alone.
    backlogs = []
    for pool, concurrency in args.pools:
        stack.stop_celery()
        since = len(receiver.hits)
        created = await create()
        begun = time.time()
        await asyncio.to_thread(stack.start_celery, pool=pool, concurrency=concurrency)
        ready = time.time()
        meter = CpuMeter(stack.processes())
        arrived_all = await receiver.wait_for("/test", created.ok, since=since, timeout=args.wait_timeout)
        cpu = meter.read()
        times = sorted(h.at for h in receiver.distinct("/test", since).values())
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        backlogs.append({
            "celery": stack.celery_pool,
            "backlog": created.ok,
            "requested": created.summary(),
            "arrived": len(times),
            "all_arrived": arrived_all,
            "celery_start_seconds": round(ready - begun, 2),
            "first_to_last_seconds": round(span, 2),
            "deliveries_per_second": round((len(times) - 1) / span, 1) if span > 0 else 0.0,
            "cpu_percent": cpu,
        })  # fmt: skip
    by_status = await (await db.execute(DELIVERIES, (endpoint["id"],))).fetchall()
    test_hits = [h for h in receiver.hits if h.path == "/test"]
    return {
        "live": live,
        "backlogs": backlogs,
        "deliveries_by_status": {s: int(n) for s, n, _, _ in by_status},
        "attempt_latency_ms": {
            s: [round(float(p50 or 0), 1), round(float(p99 or 0), 1)] for s, _, p50, p99 in by_status
        },
        "refused_signatures": verify(endpoint["secret"], test_hits),
        "received": len(test_hits),
    }


async def measure(stack: Stack, a: str, b: str, args: Any) -> dict[str, Any]:
    assert stack.gateway is not None
    receiver = Receiver()
    await receiver.start()
    try:
        async with (
            aiohttp.ClientSession(
                base_url=stack.gateway.url, connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=2),
                timeout=aiohttp.ClientTimeout(total=30), headers={"Authorization": f"Bearer {stack.api_key}"},
            ) as http,
            await psycopg.AsyncConnection.connect(stack.database_url, autocommit=True) as db,
        ):  # fmt: skip
            print(f"  (b) inbound message -> webhook latency, {args.rate:g}/s for {args.latency_seconds:g} s …")
            result = {"latency": await inbound_latency(stack, http, db, receiver, a, b, args)}
            print(f"  (a) deliveries per second, {args.events} test events per run …", flush=True)
            result["deliveries"] = await delivery_rates(stack, http, db, receiver, args)
            return result
    finally:
        await receiver.stop()


def _ms(s: dict[str, Any]) -> str:
    return f"p50 {s['p50_ms']:.0f} / p99 {s['p99_ms']:.0f} ms (max {s['max_ms']:.0f}, n {s['n']})"


def report(document: dict[str, Any]) -> str:
    if "results" not in document:
        return header("Switchboard webhook benchmark", document) + f"\nFAILED: {document.get('error')}"
    lat, dl = document["results"]["latency"], document["results"]["deliveries"]
    total, live = lat["total"], dl["live"]
    holds = total["p50_ms"] < P50_TARGET_MS and total["p99_ms"] < P99_TARGET_MS and lat["all_arrived"]
    stage_names = {
        "api": "send request -> message stored",
        "dispatch": "stored -> sent by A's worker (Celery hand-over, outbox)",
        "network": "A's worker -> B's worker emits (Redis)",
        "ingest": "emitted -> stored by the gateway (spool, /internal/v1/events)",
        "delivery": "stored -> at the receiver (Celery, HTTP POST)",
    }
    rows = [
        [f"(b) message A->B -> webhook at {lat['rate']:g}/s", _ms(total),
         f"p50 < {P50_TARGET_MS:.0f}, p99 < {P99_TARGET_MS:.0f} ms", verdict(holds)],
        ["(b)   of which from B's worker emitting", _ms(lat["from_b_worker_emit"]), "", ""],
        *[[f"(b)   stage: {stage_names[k]}", _ms(v), "", ""] for k, v in lat["stages"].items()],
        ["(b) PostgreSQL during (b)", locks_text(lat["locks"]), "", ""],
        ["(b) arrivals", f"{lat['arrived']} of {lat['send']['ok']} sent (all: {lat['all_arrived']}); duplicates "
         f"{lat['duplicates']}; signatures refused {lat['refused_signatures']}", "", ""],
        [f"(a) deliveries/s, Celery running ({live['celery']})", f"{live['deliveries_per_second']:.0f}/s: "
         f"{live['arrived']} test events requested at {live['requested']['per_second']:.0f}/s "
         f"({document['settings']['concurrency']} in flight), all arrived {live['seconds']:.1f} s after the first "
         "request", "", ""],
        ["(a) PostgreSQL while requesting and delivering", locks_text(live["locks"]), "", ""],
        *[[f"(a) deliveries/s, backlog drained ({run['celery']})", f"{run['deliveries_per_second']:.0f}/s: "
           f"{run['arrived']} of {run['backlog']} in {run['first_to_last_seconds']:.1f} s (first to last arrival)",
           "", ""] for run in dl["backlogs"]],
        ["(a) attempts (as logged)", f"by status {dl['deliveries_by_status']}; POST p50/p99 ms "
         f"{dl['attempt_latency_ms']}; {dl['received']} received, signatures refused {dl['refused_signatures']}",
         "", ""],
    ]  # fmt: skip
    cpu = [
        [f"CPU % (of one core) during (b) at {lat['rate']:g}/s", cpu_text(lat["cpu_percent"])],
        ["CPU % during (a), Celery running", cpu_text(live["cpu_percent"])],
        *[[f"CPU % during the drain ({run['celery']})", cpu_text(run["cpu_percent"])] for run in dl["backlogs"]],
    ]
    notes = (
        "stack: gateway = uvicorn, 1 process; Celery as stated, without beat; 2 sandbox worker nodes (A and B on "
        "different ones); the receiver runs in the benchmark process and answers 200 at once; PostgreSQL and Redis "
        f"on this machine; API_RATE_LIMIT={API_RATE_LIMIT}. Stages are medians and tails of each stage on its own; "
        f"they do not add up to the total's percentiles. Load average at the end {document.get('load_average_at_end')}."
    )
    return "\n".join([
        header("Switchboard webhook benchmark", document), "",
        table(["figure", "measured", "target", "verdict"], rows), "",
        table(["where the CPU went", "process: % of one core"], cpu), "", notes,
    ])  # fmt: skip


def pools(text: str) -> list[tuple[str, int]]:
    result = []
    for part in text.split(","):
        pool, _, concurrency = part.strip().partition(":")
        if pool not in ("threads", "prefork", "solo") or not concurrency.isdigit() or not 1 <= int(concurrency) <= 64:
            raise argparse.ArgumentTypeError("comma-separated pool:concurrency, e.g. threads:4,prefork:2")
        result.append((pool, int(concurrency)))
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=5.0, help="messages A->B per second in (b) (default 5)")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="the sending phase of (b) (default 20)")
    parser.add_argument("--events", type=int, default=600, help="test events per delivery run in (a) (default 600)")
    parser.add_argument("--concurrency", type=int, default=8, help="API requests in flight in (a) (default 8)")
    parser.add_argument("--celery-concurrency", type=int, default=8, help="threads of the main Celery worker")
    parser.add_argument("--pools", type=pools, default=pools("threads:4,threads:16,prefork:2"),
                        help="Celery pools for the backlog runs (default threads:4,threads:16,prefork:2)")  # fmt: skip
    parser.add_argument("--wait-timeout", type=float, default=120.0, help="limit of each waiting phase, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the folder with the processes' logs")
    args = parser.parse_args(argv)
    if not (0.1 <= args.rate <= 200 and 1 <= args.latency_seconds <= 300 and 1 <= args.events <= 20_000):
        parser.error("--rate 0.1-200, --latency-seconds 1-300, --events 1-20000")
    if not (1 <= args.concurrency <= 64 and 1 <= args.celery_concurrency <= 64 and 5 <= args.wait_timeout <= 600):
        parser.error("--concurrency 1-64, --celery-concurrency 1-64, --wait-timeout 5-600")
    return args


def _overrun(signum: int, frame: Any) -> None:
    raise TimeoutError("the benchmark overran its overall time limit")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started_at, started = datetime.now(UTC), time.monotonic()
    document: dict[str, Any] = {
        "date": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.webhooks", *argv]),
        "host": host_facts(),
        "settings": {**vars(args), "api_rate_limit": API_RATE_LIMIT},
    }
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-webhooks-"))
    print(f"Switchboard webhook benchmark, {document['date']} (logs in {tmp})", flush=True)
    signal.signal(signal.SIGALRM, _overrun)
    signal.alarm(int(args.latency_seconds + (2 + 2 * len(args.pools)) * args.wait_timeout + 300))
    stack: Stack | None = None
    failed = False
    try:
        settings = {"API_RATE_LIMIT": API_RATE_LIMIT, "SEND_RATE_MAX_PER_MINUTE": str(SEND_RATE),
                    "ALLOW_PRIVATE_NETWORK_TARGETS": "true"}  # fmt: skip
        stack = Stack.prepare(database=DATABASE, prefix=PREFIX, tmp=tmp, **settings)
        stack.start_gateway()
        stack.start_celery(pool="threads", concurrency=args.celery_concurrency)
        stack.start_worker("w1", WORKER_CAPACITY="1")
        stack.start_worker("w2", WORKER_CAPACITY="1")
        with stack.client() as api:
            a = stack.link(api, "A", A_PHONE, send_rate_per_minute=SEND_RATE)
            b = stack.link(api, "B", B_PHONE, send_rate_per_minute=SEND_RATE)
        print(f"  stack up in {time.monotonic() - started:.0f} s", flush=True)
        document["results"] = asyncio.run(measure(stack, a, b, args))
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
        name="webhooks",
        report=report,
        started_at=started_at,
        started=started,
        tmp=tmp,
        keep=args.keep or failed,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
