from __future__ import annotations

import logging

from celery import shared_task

from workers_app.services.drain import release_overdue_drains
from workers_app.services.placement import sweep_dead_workers as sweep

logger = logging.getLogger(__name__)


@shared_task(name="workers_app.tasks.sweep_dead_workers", acks_late=True, time_limit=60, soft_time_limit=50)
def sweep_dead_workers() -> list[str]:
    dead = sweep()
    if dead:
        logger.warning("workers marked dead, their sessions failed over: %s", ", ".join(dead))
    # Drained workers that did not let go in time: checked as often as the dead, by the same periodic task.
    overdue = release_overdue_drains()
    if overdue:
        logger.warning("drained workers that kept their sessions past the drain timeout: %s", ", ".join(overdue))
    return dead
