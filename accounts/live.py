"""Live access: the WebSockets an API key or a membership opened end when the key or the membership does.

Every live socket joins a group named for what let it in (its API key, or its member's place in a workspace). When
that ends (a key revoked, a member removed, a workspace deleted) a message to the group closes its sockets within
moments of the commit. The sockets also check their access again every ``LIVE_ACCESS_RECHECK_SECONDS`` and at a key's
expiry, so a message lost with a Redis restart, or a revocation made outside these services, still closes them.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# The close codes clients see: the stream's documented refusals (docs/webhooks.md, "The live stream").
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# The message type a consumer handles as ``access_revoked``.
ACCESS_REVOKED = "access.revoked"


def api_key_group(api_key_id: Any) -> str:
    return f"api-key-{api_key_id}"


def member_group(workspace_id: Any, user_id: Any) -> str:
    return f"member-{workspace_id}-{user_id}"


def close_live_sockets_after_commit(groups: list[str], *, code: int, reason: str) -> None:
    """Close every socket of ``groups`` once the transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _close(groups, code, reason))


def _close(groups: list[str], code: int, reason: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": ACCESS_REVOKED, "code": code, "reason": reason}
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # the sockets' own recheck closes them a little later
            logger.warning("could not reach the channel layer to close the sockets of %s", group, exc_info=True)
