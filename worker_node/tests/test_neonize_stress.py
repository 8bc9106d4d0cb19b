"""Fifty real neonize sessions started and stopped at once must not abort the process (Go's unlocked client maps).

Runs in a subprocess (worker_node/tests/neonize_stress.py): a Go abort there fails this test instead of killing pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_fifty_sessions_start_and_stop_at_once_without_crashing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "worker_node.tests.neonize_stress", str(tmp_path), "50"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )

    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr[-4000:]}"
    assert "concurrent map" not in result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "all 50 stopped"
    summary = json.loads(lines[-2])
    assert summary["sessions"] == 50
    assert summary["stop_seconds"] < 30
    assert not [name for name in summary["threads_left"] if name.startswith("neonize-connect")]
