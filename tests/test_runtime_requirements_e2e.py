"""requirements.txt alone runs every process on the real services: a fresh virtualenv built from it (nothing of the
test tools), the Procfile's gateway, Celery worker and beat and a sandbox worker node, on PostgreSQL, Redis and S3.

The test virtualenv hid a missing dependency once: kombu's Redis transport imports ``packaging``, which only pytest
had brought in, so Celery and beat exited at start on a production install.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.fixtures.platform import SNAPSHOT_KEY, database_url
from tests.fixtures.processes import ROOT, child_env, running, wait_for_http
from tests.fixtures.services import S3Server, free_port
from workers_app.services.enrollment import enrollment_token_create

pytestmark = pytest.mark.e2e
MARKERS = ("celery@", "ready.", "beat: Starting", "enrolled as worker", "succeeded in")


def runtime_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=120)
    pip = [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    pip.append("--no-compile")
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True, timeout=600)
    return where / "bin"


@pytest.mark.timeout(900)
def test_every_process_runs_on_the_real_services_from_requirements_txt_alone(
    transactional_db: None, s3_server: S3Server, tmp_path: Path, collected_static: Path
) -> None:
    if not settings.REDIS_URL:
        pytest.skip("this test runs Celery on Redis")
    bin_dir = runtime_venv(tmp_path / "venv")
    assert subprocess.run([bin_dir / "python", "-c", "import pytest"], capture_output=True).returncode != 0
    port = free_port()
    env = child_env(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        REDIS_KEY_PREFIX=f"{settings.REDIS_KEY_PREFIX}-runtime",
        DEBUG="false",
        SWITCHBOARD_VAR_DIR=str(collected_static),
        GATEWAY_URL=f"http://127.0.0.1:{port}",
        WORKER_ENROLLMENT_TOKEN=enrollment_token_create(name="runtime").raw,
        WORKER_DATA_DIR=str(tmp_path / "worker"),
        WORKER_SNAPSHOT_KEYS=SNAPSHOT_KEY,
        WORKER_HEARTBEAT_SECONDS="0.5",
        WORKER_SWEEP_SECONDS="1",
        **s3_server.env(),
    )
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    env.pop("VIRTUAL_ENV", None)
    honcho = [str(bin_dir / "honcho"), "start", "--procfile", "Procfile", "--port", str(port)]
    with running(honcho, env, tmp_path / "honcho.log", port) as process:
        ready = wait_for_http(process.url + "/readyz", timeout=60)
        assert ready.json()["down"] == []
        deadline = time.monotonic() + 60
        while not all(marker in process.log() for marker in MARKERS) and time.monotonic() < deadline:
            time.sleep(0.2)
        process.stop(signal.SIGINT)
        log = process.log()
    for marker in MARKERS:
        assert marker in log, log
    assert "ModuleNotFoundError" not in log, log
