"""The outbox message: what a worker receives to send one message, in ``POST /sessions/{id}/outbox``."""

from __future__ import annotations

from typing import Any, TypedDict


class MessageRef(TypedDict):
    """A message another one refers to (a reply's quote, a reaction's or edit's target)."""

    message_id: str
    wa_id: str  # empty while an outbound message is not sent yet: the worker maps our id to it once sent
    from_me: bool
    sender_jid: str
    chat_jid: str


class MediaRef(TypedDict):
    path: str  # in object storage
    mime: str
    filename: str
    size: int | None
    sha256: str


class OutboxMessage(TypedDict):
    id: str  # ours, made up front: a worker sends each id at most once
    type: str
    to: str
    to_phone: str
    content: dict[str, Any]
    media: MediaRef | None
    reply_to: MessageRef | None
    target: MessageRef | None
    expires_at: str | None  # ISO 8601; past it the worker fails the message as expired instead of sending it
