"""The events a worker posts to ``POST /internal/v1/events`` and what the gateway answers about them."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

EVENTS_PATH = "/internal/v1/events"

# Session events: only the session's current holder at the current epoch may post them.
SESSION_STATE = "session.state"
SESSION_QR = "session.qr"
SESSION_PAIRING_CODE = "session.pairing_code"
SESSION_SNAPSHOT = "session.snapshot"
SESSION_EVENTS = frozenset({SESSION_STATE, SESSION_QR, SESSION_PAIRING_CODE, SESSION_SNAPSHOT})

# Message events: from the current holder, or from the worker that held the session under the event's epoch.
MESSAGE_SENT = "message.sent"
MESSAGE_FAILED = "message.failed"
MESSAGE_RECEIPT = "message.receipt"
MESSAGE_RECEIVED = "message.received"
MESSAGE_OWN_DEVICE = "message.own_device"  # sent from the phone or another linked device
MESSAGE_EVENTS = frozenset({MESSAGE_SENT, MESSAGE_FAILED, MESSAGE_RECEIPT, MESSAGE_RECEIVED, MESSAGE_OWN_DEVICE})
MESSAGE_PREFIX = "message."

# The refusals that mean "this session is not yours at this epoch": the worker stops the session at once.
STALE_EPOCH = "stale_epoch"
NOT_HELD = "not_held"
FENCED_CODES = frozenset({STALE_EPOCH, NOT_HELD})


class WorkerEvent(TypedDict):
    """One event as a worker spools and posts it; ``id`` makes ingest idempotent."""

    id: str
    session_id: str
    epoch: int
    type: str
    occurred_at: str  # ISO 8601
    data: dict[str, Any]


class EventBatch(TypedDict):
    events: list[WorkerEvent]


class Rejected(TypedDict):
    id: str
    code: str  # stale_epoch, not_held, invalid_event, …


class EventBatchAnswer(TypedDict):
    accepted: list[str]
    duplicates: list[str]  # ingested before: confirmed all the same
    rejected: list[Rejected]  # refused for good: the worker drops them from its spool


class MessageSent(TypedDict):
    message_id: str
    wa_id: str
    timestamp: str


ReceiptType = Literal["delivered", "read", "played"]
RECEIPT_TYPES: tuple[ReceiptType, ...] = ("delivered", "read", "played")
