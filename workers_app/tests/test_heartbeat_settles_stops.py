"""A stop whose "stopped" event was lost is settled by the next heartbeat that no longer lists the session."""

from __future__ import annotations

import pytest

from sessions_app.models import Desired, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from workers_app.tests.factories import worker_with_token
from workers_app.tests.helpers import worker_client

pytestmark = pytest.mark.django_db
HEARTBEAT = "/internal/v1/heartbeat"


def test_a_session_asked_to_stop_and_no_longer_running_reads_stopped() -> None:
    worker, raw = worker_with_token()
    stopping = SessionFactory.create(worker=worker, epoch=2, desired=Desired.STOP, state=SessionState.CONNECTED)
    still_running = SessionFactory.create(worker=worker, epoch=2, desired=Desired.STOP, state=SessionState.CONNECTED)
    report = {"load": 1, "sessions": [{"id": str(still_running.pk), "epoch": 2, "state": "connected"}], "stored": []}

    response = worker_client(raw).post(HEARTBEAT, report, format="json")

    assert response.status_code == 200
    stopped = WhatsAppSession.objects.get(pk=stopping.pk)
    assert (stopped.state, stopped.worker_id) == (SessionState.STOPPED, None)
    assert WhatsAppSession.objects.get(pk=still_running.pk).state == SessionState.CONNECTED
