"""Draining a worker: its sessions move to the other workers gracefully, each after a final snapshot.

The drained worker is told (in its heartbeat's answer) that it runs nothing, so it stops its sessions and writes
each one's final snapshot, as for any session it no longer runs (worker_node/host.py ``reconcile``). Its next
heartbeat no longer lists them as running, and only then does the gateway assign them elsewhere under a new epoch:
the new worker restores from a snapshot taken after the last change, instead of from whatever the periodic
snapshots last caught while the old copy kept running. Each session is down for about one heartbeat interval.

While no other worker could take its sessions the drained worker keeps running them. What it still holds after
``WORKER_DRAIN_TIMEOUT_SECONDS`` (a worker that does not let go, or an old one that does not report what it runs)
moves anyway; the new epoch fences its copy off.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sessions_app.models import Desired, WhatsAppSession
from workers_app.models import Worker, WorkerState
from workers_app.services.placement import pick_worker, release_sessions_of


def worker_drain(*, worker: Worker) -> None:
    """Stop placing sessions on ``worker`` and move the ones it runs, gracefully (see the module's docstring)."""
    Worker.objects.filter(pk=worker.pk).exclude(state=WorkerState.REVOKED).update(
        state=WorkerState.DRAINING, draining_since=timezone.now()
    )


def hands_over(worker: Worker) -> bool:
    """Whether the draining ``worker`` should let go of its sessions now: another worker could take them."""
    return worker.state == WorkerState.DRAINING and pick_worker(engine=worker.engine) is not None


def move_released(*, worker: Worker, running: set[str]) -> None:
    """The sessions a draining ``worker`` no longer runs (it stopped them after their final snapshots) go to
    another worker under a new epoch, or wait as pending when the others filled up meanwhile."""
    with transaction.atomic():
        release_sessions_of(worker_id=worker.pk, reason=f"worker {worker.name} drained", keep=running)


def release_overdue_drains() -> list[str]:
    """Draining workers that still hold sessions after the drain timeout, while another worker could take them:
    their sessions move now. The names of those workers."""
    cutoff = timezone.now() - timedelta(seconds=settings.WORKER_DRAIN_TIMEOUT_SECONDS)
    overdue = []
    for worker in Worker.objects.filter(state=WorkerState.DRAINING, draining_since__lt=cutoff):
        holds = WhatsAppSession.objects.filter(worker=worker, desired=Desired.RUN).exists()
        if holds and pick_worker(engine=worker.engine) is not None:
            with transaction.atomic():
                release_sessions_of(worker_id=worker.pk, reason=f"worker {worker.name} drained (did not let go)")
            overdue.append(worker.name)
    return overdue
