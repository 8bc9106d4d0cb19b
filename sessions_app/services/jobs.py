"""The app's Celery tasks as its services enqueue them, in one place.

The tasks (``sessions_app/tasks.py``) load by id and call the services; the services enqueue the tasks by name
through Celery's registry, so neither imports the other's module. Each enqueue here runs once the caller's
transaction commits (``transaction.on_commit``), never inside it: a task must find what its caller wrote.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

DISPATCH_OUTBOX = "sessions_app.tasks.dispatch_outbox"
DELIVER_WEBHOOK = "sessions_app.tasks.deliver_webhook"


def _task(name: str) -> Any:
    return current_app.tasks[name]


def dispatch_outbox(session_id: str) -> None:
    """Now (the caller is after its commit already); raises when the broker is down."""
    _task(DISPATCH_OUTBOX).delay(session_id)


def deliver_webhooks_after_commit(delivery_ids: list[str]) -> None:
    transaction.on_commit(lambda: deliver_webhooks(delivery_ids))


def deliver_webhooks(delivery_ids: list[str]) -> None:
    """Now; a broker that is down is logged, not raised: the deliveries are stored and due, and the sweep sends them."""
    task = _task(DELIVER_WEBHOOK)
    for delivery_id in delivery_ids:
        try:
            task.delay(delivery_id)
        except Exception:
            logger.warning("could not enqueue webhook delivery %s; the sweep will", delivery_id, exc_info=True)


def deliver_webhook_later_after_commit(delivery_id: str, *, seconds: float) -> None:
    transaction.on_commit(lambda: _task(DELIVER_WEBHOOK).apply_async((delivery_id,), countdown=max(seconds, 0)))
