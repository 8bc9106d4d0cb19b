"""Tables for the terminal and the JSON file under bench/results/."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=False)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)])


def _s(value: float | None, wait: dict[str, Any] | None = None) -> str:
    if value is not None:
        return f"{value:.1f} s"
    if wait is None:
        return "not reached"
    why = "stalled (no progress for 60 s)" if wait["stalled"] else "timed out"
    return f"NOT REACHED: {wait['reached']}, {why}; states {wait['states']}"


def _calls(calls: dict[str, Any]) -> str:
    failed = ", ".join(f"{k} x{v}" for k, v in calls["failed"].items()) or "none"
    return (
        f"{calls['ok']} in {calls['seconds']:.1f} s = {calls['per_second']:.0f}/s "
        f"(p50 {calls['p50_ms']:.0f} ms, p95 {calls['p95_ms']:.0f} ms, max {calls['max_ms']:.0f} ms; "
        f"failed: {failed}; retries {calls['retries']})"
    )


def _ingest(stats: dict[str, Any]) -> str:
    if "error" in stats or not stats:
        return f"not read: {stats.get('error', 'no data')}"
    lags = "; ".join(
        f"{row['phase']}: {row['type'].removeprefix('session.')} x{row['count']} "
        f"{row['lag_p50_s']:.1f}/{row['lag_p95_s']:.1f} s"
        for row in stats["by_phase_and_type"]
    )
    rates = "; ".join(
        f"{r['phase']}: {r['events']} at {r['events_per_busy_second']}/s while busy (peak {r['peak_per_second']}/s)"
        for r in stats["rates"]
    )
    return f"{rates}. Worker -> database lag p50/p95: {lags}"


def sandbox_table(result: dict[str, Any]) -> str:
    mem, gw, rs, waits = result["worker_memory"], result["gateway_memory"], result["restart"], result["waits"]
    n = result["sessions"]
    redis = "with REDIS_URL" if result["worker_redis"] else "without REDIS_URL"
    rows = [
        [
            "sessions on one worker",
            f"{result['created']} created of {n} requested ({result['pool']} API calls in flight; worker {redis})",
        ],
        ["API: create", _calls(result["create"])],
        ["all showing scan_qr", f"{_s(result['all_scan_qr_seconds'], waits['scan_qr'])} after the first create"],
        ["API: sandbox scan", _calls(result["scan"])],
        [
            "all connected",
            f"{_s(result['connected_after_first_scan_seconds'], waits['connected'])} after the first scan, "
            f"{_s(result['connected_after_first_create_seconds'])} after the first create",
        ],
        [
            "all snapshots in object storage",
            f"{_s(result['all_snapshots_seconds'], waits['snapshots'])} after the first scan",
        ],
        [
            "worker RSS",
            f"{mem['rss_before_mb']:.1f} MB before any session -> {mem['rss_scan_qr_mb']:.1f} MB with "
            f"{result['created']} showing QR codes -> {mem['rss_connected_mb']:.1f} MB with {result['connected']} "
            f"connected (peak {mem['peak_mb']:.1f} MB)",
        ],
        [
            "worker RSS per session",
            f"{mem['kb_per_session']} KB overall (connected - before) / N; marginal "
            f"{mem['marginal_kb_per_pairing_session']} KB from 25% to 100% of N pairing; "
            f"+{mem['kb_per_session_to_connect']} KB each to connect",
        ],
        [
            "idle (heartbeats only)",
            f"over {mem['idle_seconds']:.0f} s: worker {mem['idle_cpu_percent']:.0f}% CPU, RSS "
            f"{mem['rss_after_idle_mb']:.1f} MB after; gateway {gw['idle_cpu_percent']:.0f}% CPU",
        ],
        [
            "gateway RSS",
            f"{gw['rss_before_mb']:.1f} MB -> {gw['rss_connected_mb']:.1f} MB (peak {gw['peak_mb']:.1f} MB, "
            f"{gw['rss_after_idle_mb']:.1f} MB after idle)",
        ],
        ["API: list all sessions (200/page)", f"p50 {result['list_all_ms_p50']:.0f} ms"],
        ["event ingest (gateway)", _ingest(result.get("ingest", {}))],
        ["restart: SIGTERM -> exit", f"{rs['shutdown_seconds']:.1f} s (exit code {rs['exit_code']})"],
        ["restart: sessions released", f"{_s(rs['released_seconds'])}; while down: {rs['states_while_down']}"],
        ["restart: worker registered", f"{rs['register_seconds']:.1f} s after start"],
        [
            "restart: all connected, no scan",
            f"{_s(rs['all_connected_seconds'], rs['wait'])} after start "
            f"(restored from object storage: {rs['restored_from_object_storage']})",
        ],
        ["restart: worker RSS", f"{rs['rss_connected_mb']:.1f} MB (peak {rs['peak_mb']:.1f} MB)"],
        ["log lines", "; ".join(f"{k}: {v}" for k, v in result["log_problems"].items())],
    ]
    return table(["sandbox engine, one worker", "figure"], rows)


def neonize_table(result: dict[str, Any]) -> str:
    rows = []
    for run in result["runs"]:
        if not run.get("dialing"):
            rows.append([str(run["sessions"]), *["-"] * 9, _survival(run)])
            continue
        loaded, dialing = run["engine_loaded"], run["dialing"]
        states = ", ".join(f"{k} {v}" for k, v in sorted(run["final_states"].items()))
        leak = run["mb_per_failed_dial_after_5s"]
        rows.append(
            [
                str(run["sessions"]),
                f"{loaded['rss_mb']:.1f}",
                f"{run['rss_at_1s_mb']:.1f} / {run['rss_at_5s_mb']:.1f} / {dialing['rss_mb']:.1f}",
                f"{run['mb_per_session_at_1s']:.2f}",
                f"{(dialing['rss_mb'] - loaded['rss_mb']) / max(run['sessions'], 1):.2f}",
                str(run["failed_dials"]),
                "-" if leak is None else f"{leak:.2f}",
                f"{dialing['threads']}",
                f"{loaded['fds']} -> {dialing['fds']}",
                states,
                _survival(run),
            ]
        )
    headers = [
        "sessions", "RSS engine loaded MB", "RSS at 1 s / 5 s / end MB", "MB/session at 1 s", "MB/session at end",
        "failed dials", "MB per dial after 5 s", "threads", "fds", "states at end", "process",
    ]  # fmt: skip
    lines = [table(headers, rows)]
    for moment, figures in result["marginal_mb_per_session"].items():
        text = ", ".join(f"{k}: {v:.2f}" for k, v in figures.items())
        lines.append(f"marginal RSS between runs ({moment}), MB per session: {text or 'n/a'}")
    return "\n".join(lines)


def _survival(run: dict[str, Any]) -> str:
    if run["survived"]:
        stop = "stopped" if run.get("stopped_in_time") else "stop overran"
        return f"survived, {stop} in {run.get('stop_seconds', 0):.1f} s"
    if run["timed_out"]:
        return "killed: over its time limit"
    return f"DIED (exit {run['exit_code']}{', Go abort' if run['go_abort'] else ''})"


def write_json(document: dict[str, Any], started: datetime) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench-{started:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    (RESULTS / "latest.json").write_text(path.read_text())
    return path
