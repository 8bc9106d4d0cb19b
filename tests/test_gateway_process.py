"""The gateway as operators run it: uvicorn serving paas.asgi, configured only by the environment."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import ROOT, child_env, gateway, running, wait_for_http
from tests.fixtures.services import free_port

pytestmark = pytest.mark.e2e


def test_readyz_names_a_database_that_is_down_and_healthz_keeps_serving(tmp_path: Path) -> None:
    env = child_env(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing",
        DEBUG="false",
        SWITCHBOARD_VAR_DIR=str(tmp_path / "var"),
    )
    with gateway(env, tmp_path / "gateway.log") as process:
        ready = httpx.get(process.url + "/readyz", timeout=20)
        assert ready.status_code == 503, ready.text
        assert ready.json()["down"] == ["database"]
        for _ in range(3):
            assert httpx.get(process.url + "/healthz", timeout=5).status_code == 200
        assert process.process.poll() is None


def test_the_procfile_runs_the_platform_on_embedded_defaults(tmp_path: Path) -> None:
    """What `make run` starts: gateway, Celery worker and beat and a sandbox worker node, on SQLite, local files and
    the filesystem broker."""
    port = free_port()
    var = tmp_path / "var"
    env = child_env(
        DEBUG="true",
        SWITCHBOARD_VAR_DIR=str(var),
        SECRET_KEY="",
        GATEWAY_URL=f"http://127.0.0.1:{port}",
        WORKER_ENROLLMENT_TOKEN_FILE=str(var / "demo-enrollment-token"),
        WORKER_DATA_DIR=str(var / "worker"),
    )
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    for command in (["migrate", "--noinput"], ["ensure_demo_enrollment", "--file", str(var / "demo-enrollment-token")]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode()
    honcho = [sys.executable, "-m", "honcho", "start", "--procfile", "Procfile", "--port", str(port)]
    with running(honcho, env, tmp_path / "honcho.log", port) as process:
        ready = wait_for_http(process.url + "/readyz", timeout=60)
        assert ready.json()["down"] == []
        assert set(ready.json()["checks"]) == {"database", "channel_layer", "broker", "object_store"}
        login = httpx.get(process.url + "/accounts/login/", timeout=10)
        assert login.status_code == 200
        assert "/static/css/app.css" in login.text
        assert httpx.get(process.url + "/static/css/app.css", timeout=10).status_code == 200
        deadline = time.monotonic() + 30
        markers = ("celery@", "beat: Starting", "enrolled as worker")
        while not all(marker in process.log() for marker in markers) and time.monotonic() < deadline:
            time.sleep(0.2)
        process.stop(signal.SIGINT)
        log = process.log()
    assert "celery@" in log, log
    assert "beat: Starting" in log, log
    assert "enrolled as worker" in log, log
    assert (tmp_path / "var" / "switchboard.sqlite3").exists()
