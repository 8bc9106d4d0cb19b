"""The statements of a hand-over. The look for undispatched messages is written out (paas.sql), as one WHERE shared by
the batch and the look for more; the rest is the ORM's, which costs no more here (bench/README.md, bench.layers)."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection

from paas.sql import column, pk_value, table
from sessions_app.models import Direction, Message, MessageStatus, SessionState, WhatsAppSession
from workers_app.models import Worker


def connected_session(session_id: str) -> WhatsAppSession | None:
    """The session with its worker attached, or None when it is not connected to one."""
    session = WhatsAppSession.objects.filter(pk=session_id).first()
    if session is None or session.worker_id is None or session.state != SessionState.CONNECTED:
        return None
    worker = Worker.objects.filter(pk=session.worker_id).first()
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
    Message.objects.filter(pk__in=message_ids, status=MessageStatus.QUEUED).update(dispatched_epoch=epoch)
