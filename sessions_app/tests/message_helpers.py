"""Shared by the messaging tests: a message factory, a connected session, media bytes of each format, and a look at
what object storage holds."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import factory
from django.core.files.storage import default_storage
from django.utils import timezone

from sessions_app.models import Direction, Message, MessageStatus, MessageType, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from workers_app.tests.factories import WorkerFactory

# The smallest byte strings that sniff as each format (what the magic-byte check looks at).
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(range(40))
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(48))
OGG = b"OggS\x00\x02" + bytes(range(58))
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"

SESSION_PHONE = "+15550100001"
SESSION_JID = "15550100001:12@s.whatsapp.net"
PEER_PHONE = "+15550100002"
PEER_JID = "15550100002@s.whatsapp.net"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> str:
    """T0 plus ``minutes``, as a worker reports times."""
    return (T0 + timedelta(minutes=minutes)).isoformat()


def received(wa_id: str, **data: Any) -> dict[str, Any]:
    """A message.received event's data as a worker reports it (a text from the peer, unless overridden)."""
    return {
        "wa_id": wa_id,
        "chat_jid": PEER_JID,
        "sender_jid": PEER_JID,
        "sender_phone": PEER_PHONE,
        "push_name": "Bea",
        "type": "text",
        "content": {"text": "hi"},
        "timestamp": at(0),
        **data,
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png_of(size: int) -> bytes:
    """A PNG (by its magic bytes) of exactly ``size`` bytes."""
    return (PNG + bytes(size))[:size]


def connected_session(**fields: Any) -> WhatsAppSession:
    """A sandbox session linked to a number and connected on a live worker under epoch 1."""
    values: dict[str, Any] = {
        "worker": WorkerFactory.create(),
        "epoch": 1,
        "state": SessionState.CONNECTED,
        "phone": SESSION_PHONE,
        "jid": SESSION_JID,
        **fields,
    }
    session: WhatsAppSession = SessionFactory.create(**values)
    return session


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    """An outbound text message, queued. ``created_at=…`` backdates it (the field is otherwise set on insert)."""

    class Meta:
        model = Message
        skip_postgeneration_save = True

    session = factory.SubFactory(SessionFactory)
    workspace = factory.LazyAttribute(lambda o: o.session.workspace)
    direction = Direction.OUTBOUND
    type = MessageType.TEXT
    chat_jid = PEER_JID
    sender_jid = factory.LazyAttribute(lambda o: o.session.jid)
    content = factory.LazyFunction(lambda: {"text": "hello"})
    status = MessageStatus.QUEUED
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=4))
    created_at = factory.PostGeneration(lambda message, create, when, **kwargs: backdate(message, create, when))


def backdate(message: Message, create: bool, when: Any) -> None:
    if create and when is not None:
        Message.objects.filter(pk=message.pk).update(created_at=when)
        message.created_at = when


def inbound(session: WhatsAppSession, wa_id: str, **fields: Any) -> Message:
    """A message received by ``session`` from the peer, unread."""
    values: dict[str, Any] = {
        "session": session,
        "direction": Direction.INBOUND,
        "status": MessageStatus.RECEIVED,
        "chat_jid": PEER_JID,
        "sender_jid": PEER_JID,
        "sender_phone": PEER_PHONE,
        "wa_id": wa_id,
        "unread": True,
        "expires_at": None,
        **fields,
    }
    message: Message = MessageFactory.create(**values)
    return message


def stored_under(prefix: str) -> set[str]:
    """Every object path in the default storage under ``prefix`` (a folder), at any depth."""
    folders, files = default_storage.listdir(prefix)
    found = {f"{prefix}/{name}" for name in files}
    for folder in folders:
        found |= stored_under(f"{prefix}/{folder}")
    return found
