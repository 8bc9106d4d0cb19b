"""Placement: which worker runs which session. PostgreSQL is the source of truth; each assignment bumps the epoch."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from sessions_app.models import Desired, SessionAssignment, SessionState, WhatsAppSession
from sessions_app.services.sessions.state import set_state
from workers_app.client import WorkerClient
from workers_app.models import Worker, WorkerState

NO_WORKER_REASON = "no worker available"


def dead_after() -> timedelta:
    return timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)


def live_workers(*, engine: str) -> list[Worker]:
    cutoff = timezone.now() - dead_after()
    return list(
        Worker.objects.filter(state=WorkerState.ACTIVE, engine=engine, last_heartbeat_at__gte=cutoff).annotate(
            assigned=Count("sessions", filter=Q(sessions__desired=Desired.RUN))
        )
    )


def pick_worker(*, engine: str) -> Worker | None:
    """The live, active worker of this engine with the lowest load relative to its capacity, if any has room."""
    candidates = [w for w in live_workers(engine=engine) if w.assigned < w.capacity]  # type: ignore[attr-defined]
    if not candidates:
        return None
    return min(candidates, key=lambda w: (w.assigned / max(w.capacity, 1), w.assigned, str(w.pk)))  # type: ignore[attr-defined]


def assign(session: WhatsAppSession, worker: Worker) -> None:
    """Give the session to ``worker`` under a new epoch, and tell the worker after commit."""
    session.worker = worker
    session.epoch += 1
    set_state(session, SessionState.STARTING, fields=("worker", "epoch"))
    # The history that ingest checks a worker's late events against, long after the session has moved on.
    SessionAssignment.objects.create(session=session, worker=worker, epoch=session.epoch)
    WorkerClient(session).lifecycle_after_commit("start")


@transaction.atomic
def place(session: WhatsAppSession) -> bool:
    worker = pick_worker(engine=session.engine)
    if worker is None:
        session.worker = None
        set_state(session, SessionState.PENDING, NO_WORKER_REASON, fields=("worker",))
        return False
    assign(session, worker)
    return True


def place_pending(*, engine: str) -> int:
    """Place sessions waiting for a worker of ``engine``; called when a worker registers or heartbeats."""
    placed = 0
    pending = WhatsAppSession.objects.filter(desired=Desired.RUN, worker__isnull=True, engine=engine)
    for session_id in pending.order_by("created_at").values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            session = (
                WhatsAppSession.objects.select_for_update(no_key=True)
                .filter(pk=session_id, worker__isnull=True)
                .first()
            )
            if session is None or session.desired != Desired.RUN:
                continue
            if not place(session):
                break
            placed += 1
    return placed


def release_sessions_of(*, worker_id: Any, reason: str, keep: Collection[str] = ()) -> None:
    """Move a lost worker's sessions elsewhere (epoch + 1 on reassignment, so the old owner is fenced off), all but
    those in ``keep`` (ids of sessions it still runs, for a drain)."""
    sessions = WhatsAppSession.objects.select_for_update(no_key=True).filter(worker_id=worker_id).exclude(pk__in=keep)
    for session in sessions:
        if session.desired == Desired.RUN:
            session.worker = None
            session.state_reason = reason
            if not place(session):
                set_state(session, SessionState.PENDING, f"{reason}; {NO_WORKER_REASON}", fields=("worker",))
        else:
            session.worker = None
            final = session.state if session.state == SessionState.LOGGED_OUT else SessionState.STOPPED
            set_state(session, final, session.state_reason, fields=("worker",))


@transaction.atomic
def sweep_dead_workers() -> list[str]:
    """Mark workers silent for longer than the dead-after interval as dead and fail their sessions over."""
    cutoff = timezone.now() - dead_after()
    dead = list(
        Worker.objects.select_for_update(skip_locked=True, no_key=True).filter(
            state__in=[WorkerState.ACTIVE, WorkerState.DRAINING], last_heartbeat_at__lt=cutoff
        )
    )
    for worker in dead:
        Worker.objects.filter(pk=worker.pk).update(state=WorkerState.DEAD)
        release_sessions_of(worker_id=worker.pk, reason=f"worker {worker.name} stopped answering")
    return [worker.name for worker in dead]
