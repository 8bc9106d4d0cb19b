"""Ingest of worker events: idempotent by event id, fenced by epoch, applied to the session in order."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from sessions_app.models import Desired, SessionAssignment, SessionEvent, SessionState, WhatsAppSession
from sessions_app.services.customer_events.deferred import deferred_inserts, insert
from sessions_app.services.customer_events.fanout import publication_batch
from sessions_app.services.messages.outbox import dispatch_after_commit
from sessions_app.services.sessions.lifecycle import delete_snapshot_after_commit
from sessions_app.services.sessions.state import publish, set_state
from sessions_app.services.worker_events.event_groups import MessageEventGroups
from sessions_app.services.worker_events.message_events import HANDLERS
from workers_app.models import Worker

logger = logging.getLogger(__name__)
# What an event's own data raises when it cannot be stored or applied, however often it is sent again; anything else
# (the database away, a bug) leaves the event unconfirmed, for the worker to send again.
MALFORMED = (DataError, ValidationError, ValueError, TypeError, KeyError, AttributeError, OverflowError)


class HeldEpochs:
    """The (session, epoch) pairs a worker was given, looked up once per batch and only when an event is not from the
    session's current holder at its current epoch (late events of a worker that lost the session, or forged ones)."""

    def __init__(self, worker: Worker, session_ids: set[str]) -> None:
        self.worker, self.session_ids = worker, session_ids
        self._held: set[tuple[str, int]] | None = None

    def __contains__(self, key: tuple[WhatsAppSession, Any]) -> bool:
        session, epoch = key
        if session.worker_id == self.worker.pk and session.epoch == epoch:
            return True
        if self._held is None:
            rows = SessionAssignment.objects.filter(worker=self.worker, session_id__in=self.session_ids)
            self._held = {(str(pk), number) for pk, number in rows.values_list("session_id", "epoch")}
        return (str(session.pk), epoch) in self._held


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)


def ingest_events(*, worker: Worker, events: list[dict[str, Any]]) -> IngestResult:
    """Store and apply each event once, in order, in one transaction (one commit, the sessions locked once).

    A bad event must not take the rest down, which takes a savepoint per event: two more statements each, a quarter
    of the cost of an event. Events almost never fail, so the batch is first applied without them, its session
    events, events and deliveries written together at the end; if any event raises, that attempt is rolled back as
    a whole (its publications with it) and the batch is applied again with a savepoint per event, where the failing
    one is set aside and the others are stored. A message already stored (WhatsApp delivers again after a
    reconnect) or an event sent again fails its INSERT on a unique key, and so also takes the careful way."""
    with publication_batch():  # the batch's live publications leave together, after the commit
        try:
            result = _ingest_batch(worker, events, isolated=False)
        except Exception:
            logger.info("a batch of worker %s did not apply at once; applying it event by event", worker.name)
            result = _ingest_batch(worker, events, isolated=True)
    if result.rejected:
        _count_refusals(worker, result.rejected)
    return result


def _count_refusals(worker: Worker, rejected: list[dict[str, str]]) -> None:
    """Refusals are counted on the worker (the admin and /metrics show them): a worker posting for sessions it does
    not hold is misconfigured, out of date or compromised, and an operator should know."""
    Worker.objects.filter(pk=worker.pk).update(events_refused=F("events_refused") + len(rejected))
    codes = sorted({item["code"] for item in rejected})
    logger.warning("worker %s: %d events refused (%s)", worker.name, len(rejected), ", ".join(codes))


def _ingest_batch(worker: Worker, events: list[dict[str, Any]], *, isolated: bool) -> IngestResult:
    result = IngestResult()
    # Events stored before (a worker sending a batch again) are answered as duplicates. The first attempt skips the
    # query: a stored id makes its insert fail, and the careful attempt then finds it here.
    ids = [str(event["id"]) for event in events]
    seen = (
        {str(pk) for pk in SessionEvent.objects.filter(pk__in=ids).values_list("pk", flat=True)} if isolated else set()
    )
    # The first attempt writes its session events, events and deliveries together when the batch ends: a stored
    # event id then fails that INSERT, which ends the attempt like any other failure. It also applies the message
    # events a kind at a time (event_groups.py); the careful attempt applies each on its own.
    groups = None if isolated else MessageEventGroups()
    with transaction.atomic(), nullcontext() if isolated else deferred_inserts():
        # FOR NO KEY UPDATE: new messages of these sessions (their foreign keys take KEY SHARE) are not held up.
        session_ids = {str(event["session_id"]) for event in events}
        held = HeldEpochs(worker, session_ids)
        sessions = {
            str(session.pk): session
            for session in WhatsAppSession.objects.select_for_update(no_key=True)
            .filter(pk__in=session_ids)
            .order_by("pk")
        }
        for event in events:
            event_id = str(event["id"])
            if event_id in seen:
                result.duplicates.append(event_id)
                continue
            session = sessions.get(str(event["session_id"]))
            if not isolated:
                outcome = _ingest_one(worker, event, session, held, groups)  # an exception ends this attempt
            else:
                try:
                    with transaction.atomic():
                        outcome = _ingest_one(worker, event, session, held)
                except IntegrityError:
                    outcome = "duplicate"  # the same event arrived twice at once (another request stored it first)
                except MALFORMED as error:
                    # Its data can never apply (a field too long for its column, a value of the wrong type): retried,
                    # it would fail again for ever and hold up nothing but itself, so it is refused.
                    logger.warning("event %s of worker %s refused: %r", event_id, worker.name, error)
                    outcome = "invalid_event"
                except Exception:
                    logger.exception("event %s of worker %s could not be applied", event_id, worker.name)
                    outcome = "error"
                if outcome in ("duplicate", "error", "invalid_event") and session is not None:
                    session.refresh_from_db()  # the savepoint rolled back; so does our copy
            if outcome == "accepted":
                seen.add(event_id)
                result.accepted.append(event_id)
            elif outcome == "duplicate":
                result.duplicates.append(event_id)
            elif outcome != "error":  # errors stay unconfirmed, so the worker retries them
                result.rejected.append({"id": event_id, "code": outcome})
        if groups is not None:
            groups.apply()
    return result


def _ingest_one(
    worker: Worker,
    event: dict[str, Any],
    session: WhatsAppSession | None,
    held: HeldEpochs,
    groups: MessageEventGroups | None = None,
) -> str:
    """Store the event and apply it, or, given ``groups``, leave it to be applied with its group when it has one."""
    if session is None:
        return "unknown_session"
    # Session events come only from the current holder at the current epoch.
    fenced = not str(event["type"]).startswith("message.")
    if fenced and (session.worker_id != worker.pk or session.epoch != event["epoch"]):
        return "stale_epoch"
    # Message events of an earlier epoch are taken from the worker that held the session then: they record what
    # WhatsApp already did (a send, a receipt, an arrival), and refusing them would make a message that was sent look
    # unsent, and send it again. From any other worker they are refused: a worker's token is a credential for its own
    # sessions, never for a workspace.
    if (session, event["epoch"]) not in held:
        return "not_held"
    if event["type"] == "session.state" and (event.get("data") or {}).get("state") not in SessionState.values:
        logger.warning("event %s of worker %s refused: unknown state", event["id"], worker.name)
        return "invalid_event"
    stored = SessionEvent(
        id=event["id"],
        session=session,
        workspace_id=session.workspace_id,
        epoch=event["epoch"],
        type=event["type"],
        data=event.get("data") or {},
        occurred_at=event["occurred_at"],
    )
    insert([stored])  # with the rest of the batch on the first attempt; at once under a savepoint
    data = event.get("data") or {}
    if groups is not None:
        if groups.take(session, event["type"], data):
            return "accepted"
        groups.apply()  # what came before this event is applied before it
    apply_event(session, event["type"], data, event["occurred_at"])
    return "accepted"


def apply_event(session: WhatsAppSession, kind: str, data: dict[str, Any], occurred_at: datetime) -> None:
    if kind == "session.state":
        _apply_state(session, data)
    elif kind == "session.qr":
        session.qr_code = str(data.get("code", ""))
        session.qr_expires_at = data.get("expires_at")
        set_state(session, SessionState.SCAN_QR, fields=("qr_code", "qr_expires_at"))
        # set_state clears the code only outside pairing states; scan_qr keeps it.
    elif kind == "session.pairing_code":
        session.pairing_code = str(data.get("code", ""))[:16]
        session.pairing_phone = str(data.get("phone", ""))[:20]
        set_state(session, SessionState.PAIRING_CODE, fields=("pairing_code", "pairing_phone"))
    elif kind in HANDLERS:
        HANDLERS[kind](session, data)
    elif kind == "session.snapshot":
        session.has_snapshot = True
        session.save(update_fields=["has_snapshot"])
        publish(session)


def _apply_state(session: WhatsAppSession, data: dict[str, Any]) -> None:
    state = str(data.get("state", ""))
    reason = str(data.get("reason", ""))
    fields: list[str] = []
    if state == SessionState.CONNECTED:
        account = data.get("account") or {}
        session.phone = str(account.get("phone", session.phone))[:20]
        session.jid = str(account.get("jid", session.jid))[:100]
        session.push_name = str(account.get("push_name", session.push_name))[:100]
        session.connected_at = timezone.now()
        fields += ["phone", "jid", "push_name", "connected_at"]
    elif state == SessionState.LOGGED_OUT:
        session.phone, session.jid, session.push_name, session.connected_at = "", "", "", None
        session.desired, session.worker, session.has_snapshot = Desired.STOP, None, False
        fields += ["phone", "jid", "push_name", "connected_at", "desired", "worker", "has_snapshot"]
        delete_snapshot_after_commit(session.pk)
    elif state in (SessionState.STOPPED, SessionState.FAILED):
        # Parked: the worker let go of it, and only the customer starts it again.
        session.desired, session.worker = Desired.STOP, None
        fields += ["desired", "worker"]
    set_state(session, state, reason, fields=tuple(fields))
    if state == SessionState.CONNECTED:
        dispatch_after_commit(session.pk)  # messages queued while it was away go out now
