"""Starting `python -m worker_node`: without WORKER_SNAPSHOT_KEYS only a developer's machine (DEBUG on) may start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.processes import ROOT
from tests.fixtures.services import free_port

pytestmark = pytest.mark.e2e
UNSET = {"DEBUG", "WORKER_SNAPSHOT_KEYS", "WORKER_ENROLLMENT_TOKEN", "WORKER_ENROLLMENT_TOKEN_FILE"}


def start_worker(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    """Run a worker with no enrollment token: past the snapshot keys it stops at once (exit 3, nothing to enroll
    with), so a test sees how far it got without a gateway."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(
        WORKER_DATA_DIR=str(tmp_path / "worker"),
        SWITCHBOARD_VAR_DIR=str(tmp_path / "var"),
        WORKER_LISTEN_PORT=str(free_port()),
        GATEWAY_URL=f"http://127.0.0.1:{free_port()}",
        **overrides,
    )
    command = [sys.executable, "-m", "worker_node"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_without_snapshot_keys_and_debug_off_the_worker_refuses_to_start(tmp_path: Path) -> None:
    done = start_worker(tmp_path)

    assert done.returncode == 2, done.stderr
    assert "WORKER_SNAPSHOT_KEYS is not set" in done.stderr
    assert "listening on" not in done.stderr
    assert not (tmp_path / "worker" / "snapshot-dev.key").exists()


def test_without_snapshot_keys_and_debug_on_the_worker_starts_on_a_development_key(tmp_path: Path) -> None:
    done = start_worker(tmp_path, DEBUG="true")

    assert "generated a development key" in done.stderr
    assert "listening on" in done.stderr
    assert done.returncode == 3, done.stderr  # then refused for want of an enrollment token, as intended here
    assert (tmp_path / "worker" / "snapshot-dev.key").exists()
