"""A message changed: the portal's live pages and the customer's events hear of it, after commit."""

from __future__ import annotations

from sessions_app.models import Message
from sessions_app.services.customer_events.publish import publish_event
from sessions_app.services.messages.payloads import message_data
from sessions_app.services.sessions.state import group_send_after_commit


def message_status_changed(message: Message, event: str | None = None) -> None:
    """Push the message to the portal, and publish ``event`` (message.status, .received, …) to the customer."""
    data = message_data(message)
    group_send_after_commit(message.workspace_id, {"type": "message.update", "message": data})
    if event is not None:
        # Callers hand in messages with their session already attached: no query per event on the ingest path.
        publish_event(workspace_id=message.workspace_id, session=message.session, kind=event, data=data)
