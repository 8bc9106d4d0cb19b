"""Without Redis (`make run`) the cache is shared by the deployment's processes: the gateway sets the outbox's
"hand-over queued" mark and Celery, another process, clears it. Request counters stay in each process's memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fixtures.processes import ROOT, child_env

# Each line runs in a process of its own, with the settings `make run` has (no REDIS_URL).
PROGRAM = """
import django
django.setup()
from django.core.cache import caches
key = "outbox-dispatch-queued:probe"
action = {action!r}
if action == "add":
    print(caches["default"].add(key, 1, timeout=60))
elif action == "delete":
    caches["default"].delete(key)
    print("deleted")
else:
    print(type(caches[action]).__name__)
"""


def _in_a_process_of_its_own(var: Path, action: str) -> str:
    env = child_env(DEBUG="true", SWITCHBOARD_VAR_DIR=str(var))
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(action=action)], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip()


def test_a_mark_set_by_one_process_is_seen_and_cleared_by_another(tmp_path: Path) -> None:
    assert _in_a_process_of_its_own(tmp_path, "add") == "True"  # the gateway marks a hand-over as queued
    assert _in_a_process_of_its_own(tmp_path, "add") == "False"  # a second send sees it: no second task
    assert _in_a_process_of_its_own(tmp_path, "delete") == "deleted"  # Celery's task ends and clears it
    assert _in_a_process_of_its_own(tmp_path, "add") == "True"  # the next send gets a task of its own
    assert (tmp_path / "cache").is_dir()


def test_request_counters_stay_in_the_process(tmp_path: Path) -> None:
    assert _in_a_process_of_its_own(tmp_path, "throttle") == "LocMemCache"
