"""WebSocket routes under /ws/. Each app contributes its own patterns."""

from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []
