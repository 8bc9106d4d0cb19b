"""A running Switchboard for the benchmarks: its own PostgreSQL database, a Redis database and key prefix of its own,
a local object folder, one gateway (uvicorn serving paas.asgi) and worker nodes (python -m worker_node)."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from psycopg import sql

from bench.procs import ROOT, Process, clean_env, free_port, spawn, wait_for_log

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "bench_switchboard"
REDIS_URL = "redis://127.0.0.1:6379/14"
REDIS_KEY_PREFIX = "bench-switchboard"


def recreate_database(name: str = DATABASE) -> str:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def clear_redis_prefix(url: str = REDIS_URL, prefix: str = REDIS_KEY_PREFIX) -> int:
    """Delete the keys an earlier run left under our prefix (bounded: at most 100,000 keys)."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(client.delete(*batch))
                batch = []
            if deleted >= 100_000:
                break
        if batch:
            deleted += int(client.delete(*batch))
    finally:
        client.close()
    return deleted


@dataclass
class Deployment:
    tmp: Path
    env: dict[str, str]
    api_key: str = ""
    enrollment_token: str = ""
    gateway: Process | None = None
    workers: dict[str, Process] = field(default_factory=dict)
    snapshot_key: str = field(default_factory=lambda: "k1:" + base64.b64encode(secrets.token_bytes(32)).decode())

    @classmethod
    def prepare(cls, tmp: Path, *, api_rate_limit: str) -> Deployment:
        """Fresh database and Redis prefix, migrations, and the workspace, API key and enrollment token."""
        database_url = recreate_database()
        clear_redis_prefix()
        var_dir = tmp / "var"
        var_dir.mkdir(parents=True, exist_ok=True)
        env = clean_env(
            DJANGO_SETTINGS_MODULE="paas.settings",
            DATABASE_URL=database_url,
            REDIS_URL=REDIS_URL,
            REDIS_KEY_PREFIX=REDIS_KEY_PREFIX,
            SWITCHBOARD_VAR_DIR=str(var_dir),
            DEBUG="false",
            SECRET_KEY=secrets.token_urlsafe(50),
            SECURE_COOKIES="false",
            SECURE_SSL_REDIRECT="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            WORKER_HEARTBEAT_SECONDS="1",
            SESSION_ENGINES="sandbox",
            # The benchmark client is not what is measured: the per-key API limit (default 600/min) would throttle it.
            API_RATE_LIMIT=api_rate_limit,
            LOG_LEVEL="INFO",
        )
        deployment = cls(tmp=tmp, env=env)
        deployment._manage("migrate", "--noinput", "-v0")
        seeded = subprocess.run(
            [sys.executable, "-m", "bench.seed"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{seeded.stderr[-3000:]}")
        answer = json.loads(seeded.stdout.strip().splitlines()[-1])
        deployment.api_key, deployment.enrollment_token = answer["api_key"], answer["enrollment_token"]
        return deployment

    def _manage(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")

    def start_gateway(self) -> Process:
        port = free_port()
        command = [
            sys.executable, "-m", "uvicorn", "paas.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off", "--no-access-log",
        ]  # fmt: skip
        self.gateway = spawn("gateway", command, self.env, self.tmp / "gateway.log", port)
        return self.gateway

    def worker_env(self, name: str, port: int, **extra: str) -> dict[str, str]:
        assert self.gateway is not None
        return {
            **self.env,
            "GATEWAY_URL": self.gateway.url,
            "WORKER_ENROLLMENT_TOKEN": self.enrollment_token,
            "WORKER_NAME": name,
            "WORKER_LISTEN_PORT": str(port),
            "WORKER_DATA_DIR": str(self.tmp / f"worker-{name}"),
            "WORKER_SNAPSHOT_KEYS": self.snapshot_key,
            **extra,
        }

    def start_worker(self, name: str, *, ready_text: str, **extra: str) -> tuple[Process, float]:
        """Start (or restart, with the same data folder) worker ``name``; returns it and the seconds until it had
        registered with the gateway (``ready_text`` in its log)."""
        port = free_port()
        log = self.tmp / f"worker-{name}-{int(time.time() * 1000)}.log"
        started = time.monotonic()
        command = [sys.executable, "-m", "worker_node"]
        process = spawn(f"worker {name}", command, self.worker_env(name, port, **extra), log, port)
        wait_for_log(process, ready_text, timeout=60)
        self.workers[name] = process
        return process, time.monotonic() - started

    def close(self) -> None:
        for name in list(self.workers):
            self.workers.pop(name).stop(timeout=30)
        if self.gateway is not None:
            self.gateway.stop(timeout=30)
            self.gateway = None
        clear_redis_prefix()  # e.g. Celery tasks queued with no Celery worker in this setup
