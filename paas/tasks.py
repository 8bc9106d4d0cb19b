"""Platform housekeeping tasks run by Celery beat."""

from __future__ import annotations

from celery import shared_task
from django.core.management import call_command


@shared_task(name="paas.tasks.clear_expired_portal_sessions")
def clear_expired_portal_sessions() -> None:
    """Portal logins live in the database; drop the expired ones so the table does not grow forever."""
    call_command("clearsessions")
