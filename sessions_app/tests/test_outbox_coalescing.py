"""A burst of sends becomes one queued hand-over per session, and nothing sent after the hand-over read is lost."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache

from sessions_app.services import outbox
from sessions_app.services.outbox import dispatch_after_commit
from sessions_app.tests.message_helpers import connected_session

pytestmark = pytest.mark.django_db


def test_a_burst_enqueues_one_dispatch_and_the_next_one_after_the_task_started(
    django_capture_on_commit_callbacks: Any,
) -> None:
    session = connected_session()
    cache.delete(f"outbox-dispatch-queued:{session.pk}")
    with mock.patch("sessions_app.tasks.dispatch_outbox.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(5):
                dispatch_after_commit(session.pk)
        assert delay.call_count == 1
        with mock.patch("workers_app.commands.call_worker", return_value={"accepted": []}):
            outbox.dispatch(str(session.pk))  # the task runs: it clears the mark before reading
        with django_capture_on_commit_callbacks(execute=True):
            dispatch_after_commit(session.pk)
        assert delay.call_count == 2
