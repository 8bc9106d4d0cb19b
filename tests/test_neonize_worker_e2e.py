"""A neonize session on a real worker process with no way to reach WhatsApp: it fails with a reason in bounded
time, the worker stays up, and the worker shuts down cleanly."""

from __future__ import annotations

import signal
import time

import pytest

from tests.fixtures.platform import Platform

pytestmark = pytest.mark.e2e


def test_a_neonize_session_without_network_fails_and_the_worker_stays_up(platform: Platform) -> None:
    worker = platform.start_worker(
        "n1", WORKER_ENGINE="neonize", WORKER_NEONIZE_MAX_ATTEMPTS="2", WORKER_NEONIZE_BACKOFF_MAX_SECONDS="0.5"
    )
    created = platform.api.post("/sessions", json={"name": "real", "engine": "neonize"})
    assert created.status_code == 201, created.text
    started = time.monotonic()
    session = platform.wait_for(f"/sessions/{created.json()['id']}", lambda s: s["state"] == "failed", timeout=60)
    assert time.monotonic() - started < 60
    assert session["state_reason"]  # says why (e.g. the connect error)
    assert worker.process.poll() is None
    assert platform.api.post(f"/sessions/{created.json()['id']}/start").status_code == 202  # can be tried again

    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=30) == 0, worker.log()
    assert "stopped" in worker.log()
    platform.workers.pop("n1")
