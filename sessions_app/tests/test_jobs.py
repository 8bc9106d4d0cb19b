"""Every task the services enqueue by name is registered in a process that never imported sessions_app.tasks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sessions_app.services import jobs

ROOT = Path(__file__).resolve().parents[2]


def test_the_gateway_process_knows_every_task_it_enqueues() -> None:
    names = [jobs.DISPATCH_OUTBOX, jobs.DELIVER_WEBHOOK]
    check = (
        "import django; django.setup(); from celery import current_app; "
        f"print([n for n in {names!r} if n not in current_app.tasks])"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"DJANGO_SETTINGS_MODULE": "paas.settings", "DEBUG": "true", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
