"""The statements of a hand-over, written out.

The dispatch task runs these for every hand-over, and at a steady trickle of sends that is one task per message.
Building them with the ORM cost more than running them: 0.6-0.9 ms of Python per statement on the bench machine,
against 0.2-0.4 ms for the same statement written out (bench/MESSAGING.md). Only quoted names from the models'
``_meta`` and placeholders are formatted into the SQL; every value travels as a parameter. Rows come back through
``Model.objects.raw``, so the database's values are converted as the ORM would convert them.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from django.db import connection, models

from sessions_app.models import Direction, Message, MessageStatus, SessionState, WhatsAppSession
from workers_app.models import Worker

M = TypeVar("M", bound=models.Model)


def _quote(name: str) -> str:
    return str(connection.ops.quote_name(name))


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return _quote(field.column)


def _pk(model: type[models.Model], value: Any) -> Any:
    return model._meta.pk.get_db_prep_value(value, connection)


def _by_pk(model: type[M], pk: Any) -> M | None:
    sql = f"SELECT * FROM {_quote(model._meta.db_table)} WHERE {_column(model, 'id')} = %s"  # noqa: S608
    return next(iter(model._default_manager.raw(sql, [_pk(model, pk)])), None)


def connected_session(session_id: str) -> WhatsAppSession | None:
    """The session with its worker attached, or None when it is not connected to one."""
    session = _by_pk(WhatsAppSession, session_id)
    if session is None or session.worker_id is None or session.state != SessionState.CONNECTED:
        return None
    worker = _by_pk(Worker, session.worker_id)
    if worker is None:
        return None
    session.worker = worker
    return session


@functools.cache
def _undispatched_where() -> str:
    """The session's queued outbound messages not yet handed over in its current epoch."""
    epoch = _column(Message, "dispatched_epoch")
    return (
        f"{_column(Message, 'session')} = %s AND {_column(Message, 'direction')} = %s AND "
        f"{_column(Message, 'status')} = %s AND ({epoch} IS NULL OR {epoch} <> %s)"
    )


def _undispatched_params(session: WhatsAppSession) -> list[Any]:
    return [_pk(WhatsAppSession, session.pk), Direction.OUTBOUND, MessageStatus.QUEUED, session.epoch]


def undispatched_batch(session: WhatsAppSession, limit: int) -> list[Message]:
    """The oldest ``limit`` of them, oldest first."""
    sql = (
        f"SELECT * FROM {_quote(Message._meta.db_table)} WHERE {_undispatched_where()} "  # noqa: S608
        f"ORDER BY {_column(Message, 'created_at')} LIMIT %s"
    )
    return list(Message.objects.raw(sql, [*_undispatched_params(session), limit]))


def has_undispatched(session: WhatsAppSession) -> bool:
    sql = f"SELECT 1 FROM {_quote(Message._meta.db_table)} WHERE {_undispatched_where()} LIMIT 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, _undispatched_params(session))
        return cursor.fetchone() is not None


def mark_dispatched(message_ids: list[str], epoch: int) -> None:
    """The worker took these in ``epoch``: they are not offered again until the epoch changes."""
    if not message_ids:
        return
    placeholders = ", ".join(["%s"] * len(message_ids))
    sql = (
        f"UPDATE {_quote(Message._meta.db_table)} SET {_column(Message, 'dispatched_epoch')} = %s "  # noqa: S608
        f"WHERE {_column(Message, 'id')} IN ({placeholders}) AND {_column(Message, 'status')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [epoch, *(_pk(Message, pk) for pk in message_ids), MessageStatus.QUEUED])
