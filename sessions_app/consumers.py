"""The portal's live channel: a signed-in member receives every session update of their current workspace."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from accounts.live import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, member_group
from accounts.middleware import SESSION_KEY
from accounts.models import Membership, User
from sessions_app.live_socket import LiveSocket, Refusal
from sessions_app.services.sessions.state import workspace_group


class PortalConsumer(LiveSocket):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        workspace_id = await self._workspace_id(user, self.scope["session"].get(SESSION_KEY))
        if workspace_id is None:
            await self.close(code=4403)
            return
        self.user_id, self.workspace_id = user.pk, workspace_id
        self.group = workspace_group(workspace_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.watch_access(member_group(workspace_id, user.pk))
        await self.accept()

    @database_sync_to_async
    def _workspace_id(self, user: Any, chosen: str | None) -> Any:
        memberships = Membership.objects.filter(user=user)
        membership = (memberships.filter(workspace_id=chosen).first() if chosen else None) or memberships.order_by(
            "created_at"
        ).first()
        return membership.workspace_id if membership else None

    @database_sync_to_async
    def access_refusal(self) -> Refusal | None:
        if not User.objects.filter(pk=self.user_id, is_active=True).exists():
            return CLOSE_UNAUTHENTICATED, "user_inactive"
        if not Membership.objects.filter(user_id=self.user_id, workspace_id=self.workspace_id).exists():
            return CLOSE_FORBIDDEN, "membership_removed"
        return None

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def session_update(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "session.update", "session": message["session"]})

    async def message_update(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "message.update", "message": message["message"]})
