"""Chat actions that need the worker's answer: read receipts, number checks, typing presence."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from paas.api.errors import Conflict
from sessions_app.models import Direction, Message, SessionState, WhatsAppSession
from sessions_app.services.messages.recipients import phone_to_digits, to_jid
from worker_node.contract.commands import NumberCheck
from workers_app.client import WorkerClient


def _connected(session: WhatsAppSession) -> WorkerClient:
    if session.state != SessionState.CONNECTED or session.worker is None:
        raise Conflict("session_not_connected", f"The session is not connected ({session.state}).")
    return WorkerClient(session)


def message_mark_read(*, session: WhatsAppSession, message_ids: list[Any]) -> list[Message]:
    """Send read receipts for received messages (grouped per chat and sender, as WhatsApp wants them)."""
    worker = _connected(session)
    messages = list(Message.objects.filter(session=session, direction=Direction.INBOUND, pk__in=message_ids))
    groups: dict[tuple[str, str], list[str]] = {}
    for message in messages:
        groups.setdefault((message.chat_jid, message.sender_jid), []).append(message.wa_id)
    for (chat_jid, sender_jid), wa_ids in groups.items():
        worker.mark_read({"chat_jid": chat_jid, "sender_jid": sender_jid, "wa_ids": wa_ids})
    with transaction.atomic():
        Message.objects.filter(pk__in=[m.pk for m in messages]).update(unread=False)
    return messages


def number_check(*, session: WhatsAppSession, phones: list[str]) -> list[NumberCheck]:
    worker = _connected(session)
    digits = [phone_to_digits(phone, strict=not session.is_sandbox) for phone in phones]
    answer = worker.check_numbers(digits)
    return list(answer.get("results", []))


def presence_send(*, session: WhatsAppSession, to: str, state: str) -> None:
    worker = _connected(session)
    worker.presence({"to": to_jid(to, sandbox=session.is_sandbox), "state": state})
