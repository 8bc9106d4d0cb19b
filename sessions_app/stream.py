"""The live event stream: /ws/v1/events, authenticated by an API key, carrying the webhook envelopes.

Filters: ``?session=<id>`` and ``?types=message.received,session.status``. A client that reconnects with
``?last_event_id=<id>`` first receives what it missed (from the last hour), then live events; an event is never sent
twice on one connection. The key comes in ``Authorization: Bearer …`` or, for browsers, ``?api_key=…``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from accounts.live import CLOSE_UNAUTHENTICATED, api_key_group
from accounts.models import APIKey, Scope
from accounts.services.api_keys import api_key_resolve
from sessions_app.live_socket import LiveSocket, Refusal
from sessions_app.models import Event, EventType
from sessions_app.services.customer_events.publish import events_group

REPLAY_WINDOW = timedelta(hours=1)


class EventStreamConsumer(LiveSocket):
    group: str | None = None

    async def connect(self) -> None:
        params = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        headers = {k.decode().lower(): v.decode() for k, v in self.scope.get("headers", [])}
        raw = headers.get("authorization", "").removeprefix("Bearer ").strip() or params.get("api_key", "")
        try:
            _, api_key = await database_sync_to_async(api_key_resolve)(raw)
        except AuthenticationFailed:
            await self._refuse(4401)
            return
        if not (api_key.has_scope(Scope.MESSAGES_READ) or api_key.has_scope(Scope.SESSIONS_READ)):
            await self._refuse(4403)
            return
        self.workspace_id, self.api_key_id = api_key.workspace_id, api_key.pk
        self.session_filter = params.get("session", "")
        self.types = {t for t in params.get("types", "").split(",") if t}
        self.sent: set[str] = set()
        self.buffer: list[dict[str, Any]] | None = []  # live events that arrive while the backlog is replayed
        self.group = events_group(self.workspace_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.watch_access(api_key_group(api_key.pk), expires_at=api_key.expires_at)
        await self.accept()
        for envelope in await self._backlog(params.get("last_event_id", "")):
            await self._send(envelope)
        pending, self.buffer = self.buffer or [], None
        for envelope in pending:
            await self._send(envelope)

    async def _refuse(self, code: int) -> None:
        # Accept first: a close before the handshake reaches clients as a bare HTTP 403, without the code.
        await self.accept()
        await self.close(code=code)

    @database_sync_to_async
    def _backlog(self, last_event_id: str) -> list[dict[str, Any]]:
        if not last_event_id:
            return []
        last = (
            Event.objects.filter(workspace_id=self.workspace_id, pk=last_event_id).first()
            if _is_uuid(last_event_id)
            else None
        )
        since = max(last.created_at, timezone.now() - REPLAY_WINDOW) if last else timezone.now() - REPLAY_WINDOW
        # Test events go to one webhook endpoint, never to live streams: a replay leaves them out too.
        events = (
            Event.objects.filter(workspace_id=self.workspace_id, created_at__gt=since)
            .exclude(type=EventType.WEBHOOK_TEST)
            .order_by("created_at")
        )
        return [event.envelope for event in events[:10_000] if last is None or event.pk != last.pk]

    def _wanted(self, envelope: dict[str, Any]) -> bool:
        if self.types and envelope["type"] not in self.types:
            return False
        session = envelope.get("session") or {}
        return not (self.session_filter and session.get("id") != self.session_filter)

    async def _send(self, envelope: dict[str, Any]) -> None:
        if envelope["id"] in self.sent or not self._wanted(envelope):
            return
        self.sent.add(envelope["id"])
        await self.send_json(envelope)

    async def event_new(self, message: dict[str, Any]) -> None:
        if self.buffer is not None:
            self.buffer.append(message["envelope"])
            return
        await self._send(message["envelope"])

    @database_sync_to_async
    def access_refusal(self) -> Refusal | None:
        key = APIKey.objects.filter(pk=self.api_key_id).only("revoked_at", "expires_at").first()
        if key is None:
            return CLOSE_UNAUTHENTICATED, "unknown_api_key"
        if key.revoked_at is not None:
            return CLOSE_UNAUTHENTICATED, "api_key_revoked"
        if key.expires_at is not None and key.expires_at <= timezone.now():
            return CLOSE_UNAUTHENTICATED, "api_key_expired"
        return None

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
