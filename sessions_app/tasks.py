"""Celery tasks of the sessions app: thin, idempotent, by id."""

from __future__ import annotations

import logging

from celery import shared_task

from paas.api.errors import APIError
from sessions_app.services.messages import outbox
from sessions_app.services.webhooks.deliveries import attempt, due_deliveries

logger = logging.getLogger(__name__)


@shared_task(
    name="sessions_app.tasks.dispatch_outbox",
    bind=True,
    acks_late=True,
    max_retries=None,
    time_limit=60,
    soft_time_limit=50,
)
def dispatch_outbox(self, session_id: str) -> int:  # type: ignore[no-untyped-def]
    try:
        return outbox.dispatch(session_id)
    except APIError as error:
        # The worker is unreachable or refused: back off (capped); the sweep and reconnects also retry.
        delay = min(2 ** min(self.request.retries, 6), 60)
        raise self.retry(countdown=delay, exc=error) from error


@shared_task(name="sessions_app.tasks.sweep_outbox", acks_late=True, time_limit=120, soft_time_limit=110)
def sweep_outbox() -> int:
    expired = outbox.expire_overdue()
    for session_id in outbox.sessions_with_waiting_messages():
        dispatch_outbox.delay(session_id)
    return expired


@shared_task(name="sessions_app.tasks.deliver_webhook", acks_late=True, time_limit=60, soft_time_limit=50)
def deliver_webhook(delivery_id: str) -> None:
    attempt(delivery_id)


@shared_task(name="sessions_app.tasks.sweep_webhooks", acks_late=True, time_limit=120, soft_time_limit=110)
def sweep_webhooks() -> int:
    """Deliveries that are due and not in flight: long retry waits, lost tasks, workers that died mid-attempt."""
    due = due_deliveries()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
