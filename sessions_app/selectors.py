"""Reads of the sessions app: a workspace's session, a session's messages and chats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from accounts.models import Workspace
from paas.sql import column, first, pk_value
from sessions_app.models import Message, WhatsAppSession


def workspace_session(*, workspace: Workspace | None, session_id: Any) -> WhatsAppSession | None:
    """The workspace's session ``session_id``; None for another workspace's, or without a workspace.

    Written out (paas.sql): every send and every message read starts here, and building the query cost more than
    running it."""
    if workspace is None:
        return None
    where = f"{column(WhatsAppSession, 'id')} = %s AND {column(WhatsAppSession, 'workspace')} = %s"
    return first(WhatsAppSession, where, [pk_value(WhatsAppSession, session_id), pk_value(Workspace, workspace.pk)])


def message_list(*, session: WhatsAppSession, chat: str = "", direction: str = "", status: str = "",
                 since: datetime | None = None, until: datetime | None = None) -> QuerySet[Message]:  # fmt: skip
    """The session's messages, filtered by what is given (MessageFilterSerializer parses the API's query)."""
    messages = Message.objects.select_related("session").filter(session=session)
    if chat:
        messages = messages.filter(chat_jid=chat)
    if direction:
        messages = messages.filter(direction=direction)
    if status:
        messages = messages.filter(status=status)
    if since is not None:
        messages = messages.filter(created_at__gte=since)
    if until is not None:
        messages = messages.filter(created_at__lt=until)
    return messages


def chat_list(*, session: WhatsAppSession, limit: int = 200) -> list[tuple[str, int, Message]]:
    """The session's most recently active chats, newest first: (chat JID, unread count, last message)."""
    newest = Message.objects.filter(session=session, chat_jid=OuterRef("chat_jid")).order_by("-created_at")
    chats = list(
        Message.objects.filter(session=session)
        .values("chat_jid")
        .annotate(
            last=Max("created_at"),
            unread=Count("pk", filter=Q(unread=True)),
            last_id=Subquery(newest.values("pk")[:1]),
        )
        .order_by("-last")[:limit]
    )
    # The last message of every chat in one more query, not one per chat.
    last_messages = Message.objects.in_bulk([chat["last_id"] for chat in chats])
    return [(chat["chat_jid"], chat["unread"], last_messages[chat["last_id"]]) for chat in chats]
