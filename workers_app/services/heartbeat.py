"""Heartbeat = reconciliation: the worker says what it runs and stores; the answer is what it should run and forget."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sessions_app.models import Desired, SessionState, WhatsAppSession
from sessions_app.services.sessions.state import ACTIVE_STATES, set_state
from worker_node.contract.commands import SessionSpec
from workers_app.client import session_payload
from workers_app.models import Worker, WorkerState
from workers_app.services.drain import hands_over, move_released
from workers_app.services.placement import place_pending


@dataclass(frozen=True)
class HeartbeatAnswer:
    sessions: list[SessionSpec]
    forget: list[str]
    heartbeat_interval: float


def worker_heartbeat(
    *, worker: Worker, load: int, stored: list[str], running: list[str] | None = None
) -> HeartbeatAnswer:
    with transaction.atomic():
        locked = Worker.objects.select_for_update(no_key=True).get(pk=worker.pk)
        locked.last_heartbeat_at = timezone.now()
        locked.load = load
        if locked.state == WorkerState.DEAD:
            locked.state = WorkerState.ACTIVE  # it came back; its old sessions were failed over meanwhile
        locked.save(update_fields=["last_heartbeat_at", "load", "state"])
    if locked.state == WorkerState.ACTIVE:
        place_pending(engine=locked.engine)
    if running is not None:
        settle_stopped(worker=locked, running=set(running))
        if locked.state == WorkerState.DRAINING:
            move_released(worker=locked, running=set(running))
    # A draining worker is told it runs nothing, so it stops its sessions with final snapshots (services/drain.py).
    owned = WhatsAppSession.objects.filter(worker=locked, desired=Desired.RUN).order_by("created_at")
    return HeartbeatAnswer(
        sessions=[] if hands_over(locked) else [session_payload(session) for session in owned],
        forget=forgettable(worker=locked, stored=stored),
        heartbeat_interval=settings.WORKER_HEARTBEAT_SECONDS,
    )


def settle_stopped(*, worker: Worker, running: set[str]) -> None:
    """Sessions asked to stop that the worker no longer runs are stopped, even if its "stopped" event got lost."""
    stopping = WhatsAppSession.objects.filter(worker=worker, desired=Desired.STOP, state__in=ACTIVE_STATES)
    for session in stopping:
        if str(session.pk) in running:
            continue
        with transaction.atomic():
            locked = WhatsAppSession.objects.select_for_update(no_key=True).get(pk=session.pk)
            if locked.worker_id == worker.pk and locked.desired == Desired.STOP:
                locked.worker = None
                set_state(locked, SessionState.STOPPED, "stopped by request", fields=("worker",))


def forgettable(*, worker: Worker, stored: list[str]) -> list[str]:
    """Local stores the worker must delete: of deleted or logged-out sessions, or of sessions now on another worker
    (two live copies of one device fight, and a stale one would roll its keys back)."""
    if not stored:
        return []
    known = {
        str(pk): (worker_id, state)
        for pk, worker_id, state in WhatsAppSession.objects.filter(pk__in=stored).values_list(
            "pk", "worker_id", "state"
        )
    }
    forget = []
    for session_id in stored:
        if session_id not in known:
            forget.append(session_id)
            continue
        worker_id, state = known[session_id]
        if state == SessionState.LOGGED_OUT or (worker_id is not None and worker_id != worker.pk):
            forget.append(session_id)
    return forget
