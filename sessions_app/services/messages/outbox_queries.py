"""The statements of a hand-over, written out (paas.sql says why).

The dispatch task runs these for every hand-over, and at a steady trickle of sends that is one task per message: at
40 sends a second on the bench machine, writing them out took Celery from 8.2 to 6.7 ms of CPU per message.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection

from paas.sql import column, first, pk_value, table
from sessions_app.models import Direction, Message, MessageStatus, SessionState, WhatsAppSession
from workers_app.models import Worker


def connected_session(session_id: str) -> WhatsAppSession | None:
    """The session with its worker attached, or None when it is not connected to one."""
    session = first(WhatsAppSession, f"{column(WhatsAppSession, 'id')} = %s", [pk_value(WhatsAppSession, session_id)])
    if session is None or session.worker_id is None or session.state != SessionState.CONNECTED:
        return None
    worker = first(Worker, f"{column(Worker, 'id')} = %s", [pk_value(Worker, session.worker_id)])
    if worker is None:
        return None
    session.worker = worker
    return session


@functools.cache
def _undispatched_where() -> str:
    """The session's queued outbound messages not yet handed over in its current epoch."""
    epoch = column(Message, "dispatched_epoch")
    return (
        f"{column(Message, 'session')} = %s AND {column(Message, 'direction')} = %s AND "
        f"{column(Message, 'status')} = %s AND ({epoch} IS NULL OR {epoch} <> %s)"
    )


def _undispatched_params(session: WhatsAppSession) -> list[Any]:
    return [pk_value(WhatsAppSession, session.pk), Direction.OUTBOUND, MessageStatus.QUEUED, session.epoch]


def undispatched_batch(session: WhatsAppSession, limit: int) -> list[Message]:
    """The oldest ``limit`` of them, oldest first."""
    sql = (
        f"SELECT * FROM {table(Message)} WHERE {_undispatched_where()} "  # noqa: S608
        f"ORDER BY {column(Message, 'created_at')} LIMIT %s"
    )
    return list(Message.objects.raw(sql, [*_undispatched_params(session), limit]))


def has_undispatched(session: WhatsAppSession) -> bool:
    sql = f"SELECT 1 FROM {table(Message)} WHERE {_undispatched_where()} LIMIT 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, _undispatched_params(session))
        return cursor.fetchone() is not None


def mark_dispatched(message_ids: list[str], epoch: int) -> None:
    """The worker took these in ``epoch``: they are not offered again until the epoch changes."""
    if not message_ids:
        return
    placeholders = ", ".join(["%s"] * len(message_ids))
    sql = (
        f"UPDATE {table(Message)} SET {column(Message, 'dispatched_epoch')} = %s "  # noqa: S608
        f"WHERE {column(Message, 'id')} IN ({placeholders}) AND {column(Message, 'status')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [epoch, *(pk_value(Message, pk) for pk in message_ids), MessageStatus.QUEUED])
