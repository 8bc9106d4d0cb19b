"""The outbox: queued messages travel to the session's worker in order, until each is sent, fails or expires.

The gateway hands a session's queued messages to its worker in one ordered batch; the worker keeps them on disk,
paces them (per-session token bucket) and sends each id at most once. A batch the worker did not take is offered
again: when the session (re)connects, on a new epoch (failover), and by the periodic sweep.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from paas.api.errors import APIError
from sessions_app.models import Direction, Message, MessageStatus, SessionState, WhatsAppSession
from sessions_app.services import jobs
from sessions_app.services.messages import outbox_queries as queries
from sessions_app.services.messages.payloads import message_payload
from sessions_app.services.messages.publication import message_status_changed
from worker_node.contract.commands import Outbox
from workers_app.client import WorkerClient

logger = logging.getLogger(__name__)
BATCH = 500
# How long one dispatch task keeps handing over what arrives before it leaves the rest to a task of its own: short,
# so that a session under steady load holds a Celery worker slot (a process, under prefork) only briefly and the
# other sessions' hand-overs are not held up behind it.
HOLD_SECONDS = 0.25


def dispatch_after_commit(session_id: Any) -> None:
    transaction.on_commit(lambda: _enqueue_dispatch(str(session_id)))


def _pending_key(session_id: str) -> str:
    return f"outbox-dispatch-queued:{session_id}"


def _enqueue_dispatch(session_id: str, *, held: bool = False) -> None:
    """One queued or running dispatch per session at a time: a burst of sends becomes one hand-over, not one task
    per message. The task clears the mark when it finds nothing more to offer (see dispatch). ``held``: the caller
    holds the mark already (a task handing the rest on)."""
    if not held and not cache.add(_pending_key(session_id), 1, timeout=60):
        return
    try:
        jobs.dispatch_outbox(session_id)
    except Exception:
        # The broker is down: the message is stored as queued, and the periodic sweep offers it again.
        cache.delete(_pending_key(session_id))
        logger.warning("could not enqueue the outbox of session %s; the sweep will", session_id, exc_info=True)


def dispatch(session_id: str) -> int:
    """Offer the session's undispatched queued messages to its worker, round after round while more arrive (for up
    to HOLD_SECONDS); the number it took.

    The mark that a hand-over is queued stays set during a round, so sends made meanwhile enqueue no task of their
    own (no broker publish in their request, no task for Celery to take and acknowledge). After each round the mark
    is cleared and only then is the outbox looked at, so that a message committed at any moment is either seen here
    or finds no mark and enqueues a task; if more are waiting, this task takes the mark back and goes on, unless a
    send took it first (its task takes them). One look per round: most hand-overs end there.

    The session is read once per task: a worker that lost it meanwhile refuses the batch (its epoch is stale), and
    the new one is offered the outbox when the session connects there."""
    key = _pending_key(session_id)
    deadline = time.monotonic() + HOLD_SECONDS
    taken = 0
    try:
        session = queries.connected_session(session_id)
        while session is not None:
            offered, took = _offer(session)
            taken += took
            cache.delete(key)
            # What the worker refused waits for the sweep or a reconnect (offering it again at once would only loop).
            if took < offered or not queries.has_undispatched(session) or not cache.add(key, 1, timeout=60):
                return taken
            if time.monotonic() >= deadline:
                _enqueue_dispatch(session_id, held=True)  # a task of its own, so that other sessions are not held up
                return taken
    except BaseException:
        cache.delete(key)  # the task's retry, the next send or the sweep takes over
        raise
    cache.delete(key)
    return taken


def _offer(session: WhatsAppSession) -> tuple[int, int]:
    """One round: the number of messages offered to the session's worker and the number it took."""

    assert session.worker is not None
    # One query for the batch. The overdue among them fail here rather than travel; replies and reactions get the
    # messages they refer to in a second query, only when there are any (a join for them cost every batch).
    queued = queries.undispatched_batch(session, BATCH)
    now = timezone.now()
    _expire([message for message in queued if message.expires_at is not None and message.expires_at <= now])
    messages = [message for message in queued if message.expires_at is None or message.expires_at > now]
    if not messages:
        return 0, 0
    _attach_references(messages)
    body: Outbox = {
        "epoch": session.epoch,
        "rate_per_minute": session_rate(session),
        "messages": [message_payload(message) for message in messages],
    }
    try:
        answer = WorkerClient(session).outbox(body)
    except APIError as error:
        logger.info("outbox of session %s not handed over (%s); retried later", session.pk, error)
        raise
    accepted = [str(x) for x in answer.get("accepted", [])]
    queries.mark_dispatched(accepted, session.epoch)
    return len(messages), len(accepted)


def session_rate(session: WhatsAppSession) -> int:

    return min(session.send_rate_per_minute or settings.SEND_RATE_PER_MINUTE, settings.SEND_RATE_MAX_PER_MINUTE)


def expire_overdue(session: WhatsAppSession | None = None) -> int:
    """Queued messages past their expiry fail with reason "expired" (the worker checks too, before sending)."""
    overdue = Message.objects.filter(status=MessageStatus.QUEUED, expires_at__lte=timezone.now())
    if session is not None:
        overdue = overdue.filter(session=session)
    return _expire(list(overdue.select_related("session")[:1000]))


def _expire(messages: list[Message]) -> int:

    count = 0
    for message in messages:
        with transaction.atomic():
            updated = Message.objects.filter(pk=message.pk, status=MessageStatus.QUEUED).update(
                status=MessageStatus.FAILED, failure_reason="expired"
            )
            if updated:
                message.status, message.failure_reason = MessageStatus.FAILED, "expired"
                message_status_changed(message, "message.status")
                count += 1
    return count


def _attach_references(messages: list[Message]) -> None:
    """Load the messages that ``messages`` reply to or act on (reactions, edits, deletes), in one query."""
    wanted = {ref for message in messages for ref in (message.reply_to_id, message.target_id) if ref is not None}
    if not wanted:
        return
    found = Message.objects.in_bulk(wanted)
    for message in messages:
        if message.reply_to_id is not None:
            message.reply_to = found.get(message.reply_to_id)
        if message.target_id is not None:
            message.target = found.get(message.target_id)


def sessions_with_waiting_messages() -> list[str]:
    ids = (
        Message.objects.filter(
            direction=Direction.OUTBOUND, status=MessageStatus.QUEUED, session__state=SessionState.CONNECTED
        )
        .values_list("session_id", flat=True)
        .distinct()[:1000]
    )
    return [str(x) for x in ids]
