"""python -m bench.layers: each piece of the performance layer beside what it stands in for, side by side in one run.

  statements  every hand-written statement (paas/sql.py and its callers) against the ORM query that says the same
  cache       a request's Redis trip through paas.cache's shared pool against Django's stock Redis backend
  asgi        GET /api/v1/whoami through the gateway's ASGI handler against Django's stock one
  fanout      publications to groups nobody is in: fanout's one question to Redis against group_send for each
  requests    a whole send and a whole event request, for scale: what share of one a piece saves

Everything runs in this one process, on a PostgreSQL database of its own (bench_switchboard_layers, recreated) and
Redis db 14 under the prefix benchlayers. The variants of a piece alternate round by round (the order reversed every
other round), so that a slow minute of the shared machine falls on all of them; the table gives the medians over the
rounds and, against the piece's first (stock) variant, the median of the per-round ratios. CPU is this thread's
(the Python and driver work a statement costs, without PostgreSQL's), or the whole process's for the handlers.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.deployment import clear_redis_prefix, recreate_database
from bench.layer_pieces import ASGI, CACHE, FANOUT, REQUESTS, STATEMENTS, Piece, Variant
from bench.load import finish, header, host_facts, table

DATABASE, PREFIX, REDIS_URL = "bench_switchboard_layers", "benchlayers", "redis://127.0.0.1:6379/14"
GROUPS = (STATEMENTS, CACHE, ASGI, FANOUT, REQUESTS)
MEASURED = {"name", "wall_us", "cpu_us", "wall_ratio", "cpu_ratio", "wall_rounds_us"}


def _clocks(process_cpu: bool) -> tuple[Any, Any]:
    return time.perf_counter_ns, time.process_time_ns if process_cpu else time.thread_time_ns


def _timed(variant: Variant, calls: int, process_cpu: bool) -> tuple[float, float]:
    """Microseconds per call: wall and CPU."""
    wall_clock, cpu_clock = _clocks(process_cpu)
    wall = cpu = 0
    for _ in range(calls):
        if variant.reset is not None:
            variant.reset()
        w, c = wall_clock(), cpu_clock()
        variant.call()
        cpu += cpu_clock() - c
        wall += wall_clock() - w
    return wall / calls / 1000, cpu / calls / 1000


def _statements(variant: Variant) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if variant.reset is not None:
        variant.reset()
    with CaptureQueriesContext(connection) as queries:
        variant.call()
    return len([q for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")])


def measure(piece: Piece, *, rounds: int, scale: float = 1.0) -> dict[str, Any]:
    """Every variant of ``piece``, round after round; per variant the medians and the ratio to the first one."""
    calls = max(1, round(piece.calls * scale))
    for variant in piece.variants:  # warm up: imports, prepared plans, pools
        _timed(variant, min(calls, 5), piece.process_cpu)
    walls: dict[str, list[float]] = {v.name: [] for v in piece.variants}
    cpus: dict[str, list[float]] = {v.name: [] for v in piece.variants}
    for number in range(rounds):
        order = piece.variants if number % 2 == 0 else piece.variants[::-1]
        for variant in order:
            wall, cpu = _timed(variant, calls, piece.process_cpu)
            walls[variant.name].append(wall)
            cpus[variant.name].append(cpu)
    base = piece.variants[0].name
    variants = []
    for variant in piece.variants:
        name = variant.name
        facts: dict[str, Any] = {}
        if piece.group == STATEMENTS:
            facts["statements per call"] = _statements(variant)
        if name in piece.probes:
            facts.update(piece.probes[name]())
        variants.append({
            "name": name,
            "wall_us": round(statistics.median(walls[name]), 1),
            "cpu_us": round(statistics.median(cpus[name]), 1),
            "wall_ratio": round(statistics.median(a / b for a, b in zip(walls[name], walls[base], strict=True)), 2),
            "cpu_ratio": round(statistics.median(a / b for a, b in zip(cpus[name], cpus[base], strict=True)), 2),
            "wall_rounds_us": [round(x, 1) for x in walls[name]],
            **facts,
        })  # fmt: skip
    return {"group": piece.group, "piece": piece.name, "calls_per_round": calls, "rounds": rounds,
            "variants": variants}  # fmt: skip


def run(*, rounds: int, scale: float, groups: set[str], redis_url: str, prefix: str) -> list[dict[str, Any]]:
    """Measure every piece of ``groups`` on the configured database (Django set up, migrated)."""
    from bench.layer_pieces import _Loop, all_pieces, build_world

    world = build_world()
    loop = _Loop()
    results = []
    try:
        for piece in all_pieces(world, loop, redis_url=redis_url, prefix=prefix, groups=groups):
            print(f"  {piece.name} …", flush=True)
            results.append(measure(piece, rounds=rounds, scale=scale))
    finally:
        loop.close()
    return results


def report(document: dict[str, Any]) -> str:
    lines = [header("Switchboard performance layer: each piece beside the stock way", document)]
    if "pieces" not in document:
        return "\n".join([*lines, f"FAILED: {document.get('error')}"])
    for group in GROUPS:
        pieces = [piece for piece in document["pieces"] if piece["group"] == group]
        if not pieces:
            continue
        rows = []
        for piece in pieces:
            for n, variant in enumerate(piece["variants"]):
                facts = "; ".join(f"{k} {v}" for k, v in variant.items() if k not in MEASURED)
                ratio = "1 (base)" if n == 0 else f"{variant['wall_ratio']:.2f} / {variant['cpu_ratio']:.2f}"
                rows.append([piece["piece"] if n == 0 else "", variant["name"], f"{variant['wall_us']:.0f}",
                             f"{variant['cpu_us']:.0f}", ratio, facts])  # fmt: skip
        lines += ["", f"[{group}]", table(["piece", "variant", "µs/call", "CPU µs/call", "ratio wall / CPU",
                                            "facts"], rows)]  # fmt: skip
    lines += ["", "µs per call: median over the rounds; ratio: median of the per-round ratios to the first variant "
              "of the piece (below 1 = cheaper). CPU: the calling thread's (statements, cache, fanout), the "
              "process's (asgi: every thread a request uses)."]  # fmt: skip
    return "\n".join(lines)


def configure(database_url: str, redis_url: str, prefix: str) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "paas.settings", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
        "API_RATE_LIMIT": "1000000/s", "SECURE_SSL_REDIRECT": "false", "ALLOWED_HOSTS": "127.0.0.1",
    })  # fmt: skip
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.layers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds of every variant (default 7)")
    parser.add_argument("--scale", type=float, default=1.0, help="calls per round, times this (default 1)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated, of {', '.join(GROUPS)}")
    args = parser.parse_args(argv)
    args.groups = {part.strip() for part in args.only.split(",") if part.strip()}
    if not (1 <= args.rounds <= 50 and 0.01 <= args.scale <= 10) or not args.groups <= set(GROUPS):
        parser.error(f"--rounds 1-50, --scale 0.01-10, --only of {', '.join(GROUPS)}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started_at, started = datetime.now(UTC), time.monotonic()
    document: dict[str, Any] = {
        "date": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.layers", *argv]),
        "host": host_facts(),
        "settings": {"rounds": args.rounds, "scale": args.scale, "groups": sorted(args.groups)},
    }
    print(f"Switchboard performance layer, {document['date']}", flush=True)
    failed = False
    try:
        clear_redis_prefix(REDIS_URL, PREFIX)
        configure(recreate_database(DATABASE), REDIS_URL, PREFIX)
        document["pieces"] = run(rounds=args.rounds, scale=args.scale, groups=args.groups, redis_url=REDIS_URL,
                                 prefix=PREFIX)  # fmt: skip
    except Exception as error:
        failed = True
        document["error"], document["traceback"] = repr(error), traceback.format_exc()
        print(traceback.format_exc(), file=sys.stderr, flush=True)
    finally:
        clear_redis_prefix(REDIS_URL, PREFIX)
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-layers-"))
    finish(document, name="layers", report=report, started_at=started_at, started=started, tmp=tmp, keep=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
