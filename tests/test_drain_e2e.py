"""Draining a worker with real worker processes (sandbox engine), PostgreSQL and S3: the session moves to the other
worker, which resumes it from the drained worker's final snapshot, not from an older one."""

from __future__ import annotations

import json
import time

import pytest

from sessions_app.models import WhatsAppSession
from tests.fixtures.platform import Platform
from tests.fixtures.services import S3Server
from workers_app.models import Worker, WorkerState
from workers_app.services.drain import worker_drain

pytestmark = pytest.mark.e2e
CHANGED = "CHANGED-AFTER-THE-LAST-SNAPSHOT"


def wait_until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("the condition never held")


def test_a_drained_workers_session_resumes_elsewhere_from_its_final_snapshot(
    platform: Platform, s3_server: S3Server
) -> None:
    platform.start_worker("w1")
    sid = platform.link("shop", "+15550100888")
    path = f"/sessions/{sid}"
    platform.wait_for(path, lambda s: s["has_snapshot"])
    platform.start_worker("w2")
    wait_until(lambda: Worker.objects.filter(name="w2", state=WorkerState.ACTIVE).exists())

    # The device's state changes after its last snapshot, as a real one's keys do with every message: only a
    # snapshot taken when it stops carries the change.
    auth = platform.tmp / "worker-w1" / "sessions" / sid / "sandbox-auth.json"
    stored = json.loads(auth.read_text())
    stored["device"]["push_name"] = CHANGED
    auth.write_text(json.dumps(stored))
    epoch = WhatsAppSession.objects.get(pk=sid).epoch

    worker_drain(worker=Worker.objects.get(name="w1"))

    wait_until(lambda: WhatsAppSession.objects.get(pk=sid).worker == Worker.objects.get(name="w2"))
    moved = platform.wait_for(path, lambda s: s["state"] == "connected" and s["account"]["push_name"] == CHANGED)
    assert moved["account"]["phone"] == "+15550100888"
    assert WhatsAppSession.objects.get(pk=sid).epoch == epoch + 1
    assert "restored from its snapshot" in platform.workers["w2"].log()
    wait_until(lambda: not auth.exists())  # w1 forgot its copy once the session had moved
    assert Worker.objects.get(name="w1").state == WorkerState.DRAINING
