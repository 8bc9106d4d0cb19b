"""WebSocket routes under /ws/. Each app contributes its own patterns."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from sessions_app.routing import websocket_urlpatterns as session_patterns


class NoSuchSocket(AsyncWebsocketConsumer):
    """Any other path: the handshake is refused (HTTP 403), where the router's own "no route" was a 500 and a
    traceback in the log."""

    async def connect(self) -> None:
        await self.close()


websocket_urlpatterns: list[Any] = [*session_patterns, re_path(r"", NoSuchSocket.as_asgi())]
