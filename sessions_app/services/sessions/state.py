"""Recording a session's state, and publishing every change to its workspace's live group after commit."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from sessions_app.models import SessionState, WhatsAppSession
from sessions_app.services.customer_events.fanout import group_send
from sessions_app.services.customer_events.publish import publish_event
from sessions_app.services.sessions.payloads import session_data

logger = logging.getLogger(__name__)

# States in which the session holds (or is getting) a WhatsApp connection on a worker.
ACTIVE_STATES = {
    SessionState.STARTING,
    SessionState.SCAN_QR,
    SessionState.PAIRING_CODE,
    SessionState.CONNECTED,
    SessionState.RECONNECTING,
}
PAIRING_STATES = {SessionState.SCAN_QR, SessionState.PAIRING_CODE}


def workspace_group(workspace_id: Any) -> str:
    return f"workspace-{workspace_id}"


def set_state(session: WhatsAppSession, state: str, reason: str = "", *, fields: tuple[str, ...] = ()) -> None:
    """Save ``state`` (and any other changed ``fields``) and publish the session once the transaction commits."""
    changed = session.state != state or session.state_reason != reason
    session.state = state
    session.state_reason = reason[:200]
    if changed:
        session.state_changed_at = timezone.now()
    if state not in PAIRING_STATES:
        session.qr_code, session.qr_expires_at, session.pairing_code = "", None, ""
    base = ["state", "state_reason", "state_changed_at", "qr_code", "qr_expires_at", "pairing_code"]
    session.save(update_fields=[*base, *fields])
    publish(session)
    if changed:
        account = (
            {"phone": session.phone, "jid": session.jid, "push_name": session.push_name} if session.phone else None
        )
        data = {"state": state, "reason": session.state_reason, "account": account}
        publish_event(workspace_id=session.workspace_id, session=session, kind="session.status", data=data)


def publish(session: WhatsAppSession) -> None:
    group_send_after_commit(session.workspace_id, {"type": "session.update", "session": session_data(session)})


def group_send_after_commit(workspace_id: Any, message: dict[str, Any]) -> None:
    group = workspace_group(workspace_id)
    transaction.on_commit(lambda: group_send(group, message))
