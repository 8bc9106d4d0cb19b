"""A Switchboard stack for the messaging and webhook benchmarks: a PostgreSQL database and a Redis key prefix of its
own (Redis db 14), a local object folder, DEBUG off, one gateway (uvicorn, one process), a Celery worker and sandbox
worker nodes, all on loopback. Run as ``python -m bench.stack`` (with the stack's settings) it seeds the database.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.deployment import REDIS_URL, clear_redis_prefix, recreate_database
from bench.load import CLIENT
from bench.procs import ROOT, Process, clean_env, free_port, service_pids, spawn, wait_for_log

WORKER_READY = "enrolled as worker"
CELERY_READY = " ready."


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    database_url: str
    prefix: str
    api_key: str = ""
    workspace_id: str = ""
    enrollment_token: str = ""
    spare_enrollment_token: str = ""
    gateway: Process | None = None
    internal: Process | None = None
    celery: Process | None = None
    celery_pool: str = ""
    workers: dict[str, Process] = field(default_factory=dict)
    snapshot_key: str = field(default_factory=lambda: "k1:" + base64.b64encode(secrets.token_bytes(32)).decode())

    @classmethod
    def prepare(cls, *, database: str, prefix: str, tmp: Path, **settings: str) -> Stack:
        """A fresh database and Redis prefix, migrated and seeded (workspace, API key, two enrollment tokens)."""
        database_url = recreate_database(database)
        clear_redis_prefix(REDIS_URL, prefix)
        var_dir = tmp / "var"
        var_dir.mkdir(parents=True, exist_ok=True)
        env = clean_env(
            DJANGO_SETTINGS_MODULE="paas.settings",
            DATABASE_URL=database_url,
            REDIS_URL=REDIS_URL,
            REDIS_KEY_PREFIX=prefix,
            SWITCHBOARD_VAR_DIR=str(var_dir),
            DEBUG="false",
            SECRET_KEY=secrets.token_urlsafe(50),
            SECURE_COOKIES="false",
            SECURE_SSL_REDIRECT="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SESSION_ENGINES="sandbox",
            WORKER_HEARTBEAT_SECONDS="1",
            LOG_LEVEL="INFO",
            **settings,
        )
        stack = cls(tmp=tmp, env=env, database_url=database_url, prefix=prefix)
        stack._run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"])
        seeded = json.loads(stack._run([sys.executable, "-m", "bench.stack"]).strip().splitlines()[-1])
        stack.api_key, stack.workspace_id = seeded["api_key"], seeded["workspace"]
        stack.enrollment_token, stack.spare_enrollment_token = seeded["enrollment_token"], seeded["spare_token"]
        return stack

    def _run(self, command: list[str]) -> str:
        result = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    # --- processes ----------------------------------------------------------------------------------------------

    def start_gateway(self) -> Process:
        self.gateway = self._uvicorn("gateway")
        return self.gateway

    def start_internal_gateway(self) -> Process:
        """A second gateway process that only the worker nodes use (their GATEWAY_URL): the customer API and the
        ingest of worker events then run on separate cores, as docs/operations.md recommends. Start it before the
        workers."""
        self.internal = self._uvicorn("internal")
        return self.internal

    def _uvicorn(self, name: str) -> Process:
        port = free_port()
        command = [
            sys.executable, "-m", "uvicorn", "paas.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off", "--no-access-log",
        ]  # fmt: skip
        return spawn(name, command, self.env, self.tmp / f"{name}.log", port)

    def start_celery(self, *, pool: str = "threads", concurrency: int = 8, **extra: str) -> Process:
        """A Celery worker without beat (the periodic sweeps are a safety net; every hand-over here is direct)."""
        self.stop_celery()
        log = self.tmp / f"celery-{pool}-{concurrency}-{int(time.time() * 1000)}.log"
        command = [
            sys.executable, "-m", "celery", "-A", "paas", "worker", "--pool", pool, "--concurrency", str(concurrency),
            "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"{self.prefix}-{pool}-{concurrency}@%h",
        ]  # fmt: skip
        with log.open("ab") as out:
            popen = subprocess.Popen(
                command, cwd=ROOT, env={**self.env, **extra}, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.celery = Process(name="celery", process=popen, log_path=log, port=0)
        self.celery_pool = f"{pool}, concurrency {concurrency}"
        wait_for_log(self.celery, CELERY_READY, timeout=60)
        return self.celery

    def stop_celery(self) -> None:
        if self.celery is not None:
            self.celery.stop(timeout=30)
            self.celery = None

    def start_worker(self, name: str, **extra: str) -> Process:
        assert self.gateway is not None, "start the gateway first"
        port = free_port()
        env = {
            **self.env,
            "GATEWAY_URL": (self.internal or self.gateway).url,
            "WORKER_ENROLLMENT_TOKEN": self.enrollment_token,
            "WORKER_NAME": name,
            "WORKER_LISTEN_PORT": str(port),
            "WORKER_DATA_DIR": str(self.tmp / f"worker-{name}"),
            "WORKER_SNAPSHOT_KEYS": self.snapshot_key,
            "SANDBOX_QR_SCHEDULE": "30,30,30,30",
            **extra,
        }
        process = spawn(f"worker {name}", [sys.executable, "-m", "worker_node"], env, self.tmp / f"{name}.log", port)
        wait_for_log(process, WORKER_READY, timeout=60)
        self.workers[name] = process
        return process

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None, "start the gateway first"
        return self.gateway.url

    def processes(self) -> dict[str, int]:
        """Name -> pid of every process of the stack that is running, the PostgreSQL and Redis servers it shares the
        machine with, and this benchmark client."""
        named = {"gateway": self.gateway, "internal": self.internal, "celery": self.celery, **self.workers}
        pids = {name: p.pid for name, p in named.items() if p is not None and p.alive()}
        return {**pids, **service_pids(), CLIENT: os.getpid()}

    def background(self) -> dict[str, int]:
        """Name -> pid of the processes that work behind the API: Celery, the worker nodes, and the workers' own
        gateway when there is one (with --single-gateway the API's gateway takes their events, and is not here)."""
        named = {"internal": self.internal, "celery": self.celery, **self.workers}
        return {name: p.pid for name, p in named.items() if p is not None and p.alive()}

    def close(self) -> None:
        for name in list(self.workers):
            self.workers.pop(name).stop(timeout=30)
        self.stop_celery()
        for process in (self.gateway, self.internal):
            if process is not None:
                process.stop(timeout=30)
        self.gateway = self.internal = None
        clear_redis_prefix(REDIS_URL, self.prefix)

    # --- the API, for setting up (not measured) -----------------------------------------------------------------

    def client(self) -> httpx.Client:
        assert self.gateway is not None
        return httpx.Client(
            base_url=self.gateway.url + "/api/v1", headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30
        )

    def link(self, api: httpx.Client, name: str, phone: str, **fields: Any) -> str:
        """Create a sandbox session, scan it as ``phone``, wait until it is connected; its id."""
        created = api.post("/sessions", json={"name": name, **fields})
        if created.status_code != 201:
            raise RuntimeError(f"creating session {name}: {created.status_code} {created.text}")
        sid = str(created.json()["id"])
        wait_for(api, f"/sessions/{sid}", lambda s: s["state"] == "scan_qr", timeout=60)
        scanned = api.post(f"/sessions/{sid}/sandbox/scan", json={"phone": phone})
        if scanned.status_code != 202:
            raise RuntimeError(f"scanning session {name}: {scanned.status_code} {scanned.text}")
        wait_for(api, f"/sessions/{sid}", lambda s: s["state"] == "connected", timeout=60)
        return sid


def wait_for(
    api: httpx.Client, path: str, predicate: Callable[[dict[str, Any]], bool], *, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = api.get(path)
        body = response.json()
        if response.status_code == 200 and predicate(body):
            return body
        time.sleep(0.2)
    raise TimeoutError(f"{path} never matched within {timeout} s; last: {body}")


def seed() -> None:
    """In a child process with the stack's settings: the workspace, an API key with every scope, and two enrollment
    tokens (one for the worker nodes, one for the benchmark's own worker identity), as one JSON line."""
    import django

    django.setup()

    from accounts.models import Scope, Workspace
    from accounts.services.api_keys import api_key_create
    from workers_app.services.enrollment import enrollment_token_create

    workspace = Workspace.objects.create(name="Benchmark")
    key = api_key_create(workspace=workspace, name="bench", scopes=list(Scope.values), created_by=None)
    workers = enrollment_token_create(name="bench worker nodes")
    spare = enrollment_token_create(name="bench ingest client", max_uses=1)
    answer = {"workspace": str(workspace.pk), "api_key": key.raw_key, "enrollment_token": workers.raw}
    print(json.dumps({**answer, "spare_token": spare.raw}))


if __name__ == "__main__":
    seed()
