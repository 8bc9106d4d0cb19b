"""WebSocket routes under /ws/. Each app contributes its own patterns."""

from __future__ import annotations

from typing import Any

from sessions_app.routing import websocket_urlpatterns as session_patterns

websocket_urlpatterns: list[Any] = [*session_patterns]
