"""The message events of an ingest batch applied a kind at a time: one statement per kind instead of one per event.

Under load most of a batch is the three events every message brings: message.sent and a delivered receipt from the
sender's worker, message.received from the recipient's. Applied one at a time each is an UPDATE or an INSERT of its
own, and those were most of the statements a message cost (bench/MESSAGING.md). Between two events of any other
kind, they are collected and then applied per session in this order, each kind in one statement: the messages
received, the sent events, the receipts by status (delivered, read, played). Events of different messages do not
touch the same row; for one message this is the order its statuses come in (it is sent before it is delivered,
delivered before it is read), so it ends as applying the events one by one would. Received messages that quote or
act on another one are looked up when stored, so they are applied on their own, after what came before them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sessions_app.models import WhatsAppSession
from sessions_app.services.worker_events import message_events as events

Apply = Callable[[WhatsAppSession, list[dict[str, Any]]], None]


def _receipts(status: str) -> Apply:
    return lambda session, receipts: events.apply_receipts(session, status, receipts)


APPLY: dict[str, Apply] = {
    "received": events.store_received,
    "sent": events.apply_sent,
    **{status: _receipts(status) for status in events.RECEIPT_STATUSES},
}
ORDER = list(APPLY)


def group_of(kind: str, data: dict[str, Any]) -> str | None:
    """The group an event is applied with, or None when it is applied on its own."""
    if kind == "message.sent":
        return "sent"
    if kind == "message.receipt" and data.get("type") in events.RECEIPT_STATUSES:
        return str(data["type"])
    if kind == "message.received" and not events.refers_to_another(data):
        return "received"
    return None


class MessageEventGroups:
    """Message events collected during an ingest batch's first attempt (which is rolled back whole on any error, so
    applying them later changes nothing that a failure could expose), applied by :meth:`apply`."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], tuple[WhatsAppSession, list[dict[str, Any]]]] = {}

    def take(self, session: WhatsAppSession, kind: str, data: dict[str, Any]) -> bool:
        """Collect the event if it is applied with a group; whether it was."""
        group = group_of(kind, data)
        if group is None:
            return False
        self._pending.setdefault((group, str(session.pk)), (session, []))[1].append(data)
        return True

    def apply(self) -> None:
        """Apply what was collected, group after group in ORDER (sessions in the order they first came)."""
        pending, self._pending = self._pending, {}
        for (group, _), (session, collected) in sorted(pending.items(), key=lambda item: ORDER.index(item[0][0])):
            APPLY[group](session, collected)
