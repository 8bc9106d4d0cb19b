"""Message events from workers: statuses of what we sent, and what arrived. Each updates the stored message and is
published to the workspace (the live stream and webhooks build on the same publication)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from paas import sql
from sessions_app.models import STATUS_RANK, Direction, Message, MessageStatus, MessageType, WhatsAppSession
from sessions_app.services.customer_events import deferred
from sessions_app.services.messages.media import is_inbound_path
from sessions_app.services.messages.publication import message_status_changed
from sessions_app.services.messages.recipients import jid_phone

logger = logging.getLogger(__name__)
TARGET_EVENTS: dict[str, str] = {
    MessageType.REACTION: "message.reaction",
    MessageType.EDIT: "message.edited",
    MessageType.DELETE: "message.revoked",
}
_TIME_FIELD = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at", "played": "read_at"}


def _when(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return timezone.now()


def advance(
    session: WhatsAppSession, status: str, key: str, rows: list[tuple[Any, ...]], changes: tuple[str, ...] = ()
) -> list[Message]:
    """Move the session's outbound messages forward to ``status``, never backwards and never out of ``failed``; the
    messages as updated. Each row is (the value of the field ``key`` that finds a message, the status's time, the
    values of ``changes`` in that order); of rows with the same key the first counts, as it would if they were
    applied one by one (the later ones would find the message moved already).

    One ``UPDATE … FROM (VALUES …) RETURNING`` (PostgreSQL; SQLite since 3.35) for all rows takes the place of a
    ``SELECT … FOR UPDATE`` and an ``UPDATE`` per message, and the rows are locked only by the statement that
    changes them. Names and placeholders only are formatted in (paas.sql); every value travels as a parameter."""
    first: dict[Any, tuple[Any, ...]] = {}
    for row in rows:
        first.setdefault(row[0], row)
    if not first:
        return []
    fields = [sql.field(Message, name) for name in (key, _TIME_FIELD[status], *changes)]
    # v.column1 is the key; the status's time and the changes follow in the row's order.
    assignments = ", ".join(
        [f"{sql.column(Message, 'status')} = %s"]
        + [f"{sql.quote(field.column)} = v.column{n}" for n, field in enumerate(fields[1:], start=2)]
    )
    below = [name for name, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    statement = (
        f"UPDATE {sql.table(Message)} SET {assignments} "  # noqa: S608
        f"FROM (VALUES {sql.values_list(len(first), len(fields))}) AS v "
        f"WHERE {sql.quote(fields[0].column)} = v.column1 AND {sql.column(Message, 'session')} = %s AND "
        f"{sql.column(Message, 'direction')} = %s AND {sql.column(Message, 'status')} IN "
        f"({', '.join(['%s'] * len(below))}) RETURNING {sql.columns(Message)}"
    )
    values = [field.get_db_prep_save(value, connection) for row in first.values()
              for field, value in zip(fields, row, strict=True)]  # fmt: skip
    params = [status, *values, sql.pk_value(WhatsAppSession, session.pk), Direction.OUTBOUND, *below]
    moved = list(Message.objects.raw(statement, params))
    for message in moved:
        message.session = session
    return moved


def apply_sent(session: WhatsAppSession, sent: list[dict[str, Any]]) -> None:
    """message.sent events: each message moves to sent with its WhatsApp id, published in the events' order."""
    rows = []
    for data in sent:
        try:
            message_id = uuid.UUID(str(data.get("message_id")))
        except ValueError:
            continue  # not an id of ours: nothing to move
        timestamp = _when(data.get("timestamp"))
        rows.append((message_id, timestamp, str(data.get("wa_id", ""))[:100], timestamp))
    moved = {message.pk: message for message in advance(session, MessageStatus.SENT, "id", rows,
                                                         ("wa_id", "timestamp"))}  # fmt: skip
    for message_id, *_ in rows:
        if (message := moved.pop(message_id, None)) is not None:
            message_status_changed(message, "message.status")
            if message.target_id:
                _apply_to_target(message)


def on_sent(session: WhatsAppSession, data: dict[str, Any]) -> None:
    apply_sent(session, [data])


def _apply_to_target(message: Message) -> None:
    """Our own reaction, edit or delete went out: the message it refers to shows it too."""
    target = Message.objects.select_for_update(no_key=True).get(pk=str(message.target_id))
    target.session = message.session
    if message.type == MessageType.REACTION:
        emoji = message.content.get("emoji", "")
        reactions = {k: v for k, v in target.reactions.items() if k != message.sender_jid}
        target.reactions = {**reactions, message.sender_jid: emoji} if emoji else reactions
    elif message.type == MessageType.EDIT:
        target.content = {**target.content, "text": message.content.get("text", ""), "edited": True}
        target.edited_at = message.timestamp
    elif message.type == MessageType.DELETE:
        target.revoked_at = message.timestamp
    target.save(update_fields=["reactions", "content", "edited_at", "revoked_at"])
    message_status_changed(target, TARGET_EVENTS[message.type])


def on_failed(session: WhatsAppSession, data: dict[str, Any]) -> None:
    updated = Message.objects.filter(
        session=session, pk=str(data.get("message_id")), status=MessageStatus.QUEUED
    ).update(status=MessageStatus.FAILED, failure_reason=str(data.get("reason", "failed"))[:200])
    if updated:
        failed = Message.objects.get(pk=str(data.get("message_id")))
        failed.session = session
        message_status_changed(failed, "message.status")


RECEIPT_STATUSES = ("delivered", "read", "played")


def apply_receipts(session: WhatsAppSession, status: str, receipts: list[dict[str, Any]]) -> None:
    """message.receipt events of one status: the messages they name move to it, published receipt by receipt, the
    newest message of each first."""
    named = [[str(x) for x in data.get("wa_ids", [])][:1000] for data in receipts]
    rows = [(wa_id, _when(data.get("timestamp"))) for data, wa_ids in zip(receipts, named, strict=True)
            for wa_id in wa_ids]  # fmt: skip
    moved = {message.wa_id: message for message in advance(session, status, "wa_id", rows)}
    for wa_ids in named:
        mine = [message for wa_id in wa_ids if (message := moved.pop(wa_id, None)) is not None]
        for message in sorted(mine, key=lambda message: message.created_at, reverse=True):
            message_status_changed(message, "message.status")


def on_receipt(session: WhatsAppSession, data: dict[str, Any]) -> None:
    status = str(data.get("type", ""))
    if status in RECEIPT_STATUSES:
        apply_receipts(session, status, [data])


def on_received(session: WhatsAppSession, data: dict[str, Any]) -> None:
    _store_message(session, data, own=False)


def on_own_device(session: WhatsAppSession, data: dict[str, Any]) -> None:
    """A message this account sent from the phone, or another device linked to it, without the API: stored as an
    outbound message that is already sent (its receipts then move it on like ours), and published as
    message.sent_elsewhere, never as message.received, so that no bot answers its own account."""
    _store_message(session, data, own=True)


def _store_message(session: WhatsAppSession, data: dict[str, Any], *, own: bool) -> None:
    kind = str(data.get("type", "text"))
    target_wa_id = (data.get("target") or {}).get("wa_id", "")
    target = Message.objects.filter(session=session, wa_id=target_wa_id).first() if target_wa_id else None
    quoted_wa_id = (data.get("quoted") or {}).get("wa_id", "")
    reply_to = Message.objects.filter(session=session, wa_id=quoted_wa_id).first() if quoted_wa_id else None
    message = _message_from(session, data, own=own, target=target, reply_to=reply_to)
    # A stored message is inserted under a savepoint, so that a redelivery is told apart from a new message without
    # aborting the transaction; inside a deferred block the whole attempt is rolled back on an error instead.
    if deferred.active():
        message.save(force_insert=True)  # a stored WhatsApp id fails here, and the caller's whole attempt with it
    else:
        try:
            with transaction.atomic():
                message.save(force_insert=True)
        except IntegrityError:
            return  # the same WhatsApp message again (a redelivery): stored, applied and published once
    if target is not None:
        target.session = session
        _change_target(kind, target, str(data.get("sender_jid", "")), data)
    published = "message.sent_elsewhere" if own else "message.received"
    message_status_changed(message, None if kind in TARGET_EVENTS else published)


def refers_to_another(data: dict[str, Any]) -> bool:
    """Whether a received message quotes or acts on another one (read by its WhatsApp id when it is stored)."""
    return bool((data.get("target") or {}).get("wa_id") or (data.get("quoted") or {}).get("wa_id"))


def store_received(session: WhatsAppSession, received: list[dict[str, Any]]) -> None:
    """message.received events that refer to no other message, stored in one INSERT and published in order. Only
    inside a deferred block (an ingest batch's first attempt): a WhatsApp id stored before fails the INSERT and the
    attempt, and the batch is then applied event by event, where a redelivery is told apart."""
    assert deferred.active()
    assert not any(refers_to_another(data) for data in received)
    messages = [_message_from(session, data, own=False, target=None, reply_to=None) for data in received]
    sql.insert(*messages)
    for message in messages:
        message_status_changed(message, None if message.type in TARGET_EVENTS else "message.received")


def _message_from(session: WhatsAppSession, data: dict[str, Any], *, own: bool, target: Message | None,
                  reply_to: Message | None) -> Message:  # fmt: skip
    kind = str(data.get("type", "text"))
    sender_jid = str(data.get("sender_jid", ""))
    sender_phone = str(data.get("sender_phone") or jid_phone(sender_jid) or jid_phone(str(data.get("sender_alt", ""))))
    media = _received_media(session, data)
    when = _when(data.get("timestamp"))
    return Message(
        workspace_id=session.workspace_id,
        session=session,
        direction=Direction.OUTBOUND if own else Direction.INBOUND,
        type=kind if kind in MessageType.values else MessageType.TEXT,
        chat_jid=str(data.get("chat_jid", sender_jid))[:100],
        sender_jid=sender_jid[:100],
        sender_phone=sender_phone[:20],
        push_name=str(data.get("push_name", ""))[:100],
        content=data.get("content") or {},
        media_path=str(media.get("path", ""))[:300],
        media_mime=str(media.get("mime", ""))[:100],
        media_size=media.get("size"),
        media_sha256=str(media.get("sha256", ""))[:64],
        media_filename=str(media.get("filename", ""))[:255],
        reply_to=reply_to,
        target=target,
        wa_id=str(data.get("wa_id", ""))[:100],
        status=MessageStatus.SENT if own else MessageStatus.RECEIVED,
        sent_at=when if own else None,
        timestamp=when,
        unread=not own and kind not in TARGET_EVENTS,
    )


def _received_media(session: WhatsAppSession, data: dict[str, Any]) -> dict[str, Any]:
    """The event's media, when its path is where the worker keeps this session's media. A path elsewhere (another
    session's media, a snapshot) would have the gateway serve that object to this workspace: the message is kept
    without media instead, as a message whose media the worker could not download is."""
    media = data.get("media") or {}
    if not isinstance(media, dict):
        return {}
    path = str(media.get("path", ""))
    if path and not is_inbound_path(path, session_id=session.pk):
        logger.warning("session %s: media path %r of %s is outside the session's own; dropped",
                       session.pk, path[:300], data.get("wa_id"))  # fmt: skip
        return {}
    return media


def _change_target(kind: str, target: Message, sender_jid: str, data: dict[str, Any]) -> None:
    """A reaction, edit or delete that arrived (or that the account made on its phone) shows on its target."""
    if kind == MessageType.REACTION:
        reactions = dict(target.reactions)
        emoji = str((data.get("content") or {}).get("emoji", ""))
        if emoji:
            reactions[sender_jid] = emoji
        else:
            reactions.pop(sender_jid, None)  # an empty reaction takes it back
        target.reactions = reactions
        target.save(update_fields=["reactions"])
        message_status_changed(target, "message.reaction")
    elif kind == MessageType.EDIT:
        target.content = {**target.content, "text": (data.get("content") or {}).get("text", ""), "edited": True}
        target.edited_at = _when(data.get("timestamp"))
        target.save(update_fields=["content", "edited_at"])
        message_status_changed(target, "message.edited")
    elif kind == MessageType.DELETE:
        target.revoked_at = _when(data.get("timestamp"))
        target.save(update_fields=["revoked_at"])
        message_status_changed(target, "message.revoked")


HANDLERS = {
    "message.sent": on_sent,
    "message.failed": on_failed,
    "message.receipt": on_receipt,
    "message.received": on_received,
    "message.own_device": on_own_device,
}
