"""What the portal's live channel and the event stream share: they end when the access that opened them does, and
they answer a client's ping.

A socket joins the group of what let it in (accounts/live.py): a revocation's message closes it at once, and it checks
its access again every ``LIVE_ACCESS_RECHECK_SECONDS`` (and at a key's expiry) in case that message was lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)
Refusal = tuple[int, str]  # the close code and the reason a client is told
# RFC 6455's close codes for a binary frame where text was expected, and for text that is not JSON.
UNSUPPORTED_DATA, INVALID_PAYLOAD = 1003, 1007


class LiveSocket(AsyncJsonWebsocketConsumer):
    access_group: str | None = None
    closed = False
    _watch: asyncio.Task[None] | None = None

    async def access_refusal(self) -> Refusal | None:
        """Why the access that opened this socket no longer holds, or None while it does."""
        raise NotImplementedError

    async def watch_access(self, group: str, *, expires_at: datetime | None = None) -> None:
        self.access_group = group
        await self.channel_layer.group_add(group, self.channel_name)
        self._watch = asyncio.create_task(self._recheck(expires_at))

    async def _recheck(self, expires_at: datetime | None) -> None:
        while not self.closed:
            wait = float(settings.LIVE_ACCESS_RECHECK_SECONDS)
            if expires_at is not None:
                wait = min(wait, max((expires_at - timezone.now()).total_seconds(), 0.0))
            await asyncio.sleep(wait)
            try:
                refusal = await self.access_refusal()
            except Exception:  # the database is away: keep the socket, and ask again next time
                logger.warning("could not recheck a live socket's access", exc_info=True)
                continue
            if refusal is not None:
                await self.end(*refusal)

    async def end(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            await self.close(code=code, reason=reason)

    async def access_revoked(self, message: dict[str, Any]) -> None:
        await self.end(int(message["code"]), str(message["reason"]))

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        # Events that were already on their way when the socket closed are dropped, not sent after the close.
        if not self.closed:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # A client's bad frame ends its own connection with the WebSocket code for it, not in a traceback.
        if text_data is None:
            await self.end(UNSUPPORTED_DATA, "text frames only")
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            await self.end(INVALID_PAYLOAD, "frames must be JSON")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self._watch is not None:
            self._watch.cancel()
        if self.access_group:
            await self.channel_layer.group_discard(self.access_group, self.channel_name)
