"""Customer events: one envelope for webhooks and the live stream, stored so deliveries and replays can be made."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from paas import sql
from sessions_app.models import Delivery, Event, WebhookEndpoint, WhatsAppSession
from sessions_app.services import jobs
from sessions_app.services.customer_events.deferred import insert
from sessions_app.services.customer_events.fanout import batch_memo, group_send

logger = logging.getLogger(__name__)


def events_group(workspace_id: Any) -> str:
    return f"events-{workspace_id}"


def envelope_for(*, event_id: uuid.UUID, kind: str, workspace_id: Any, session: WhatsAppSession | None,
                 data: dict[str, Any], created_at: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "id": str(event_id),
        "type": kind,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "workspace": str(workspace_id),
        "session": None if session is None else {"id": str(session.pk), "name": session.name, "phone": session.phone},
        "data": data,
    }


def endpoint_wants(endpoint: WebhookEndpoint, kind: str, session_id: str | None) -> bool:
    if endpoint.event_types and kind not in endpoint.event_types:
        return False
    return not (endpoint.session_ids and (session_id is None or session_id not in endpoint.session_ids))


def publish_event(*, workspace_id: Any, session: WhatsAppSession | None, kind: str, data: dict[str, Any]) -> Event:
    """Store the event, create a delivery per interested endpoint, and after commit hand both to Celery and the
    live stream. Called inside the transaction that made the change, so an event exists exactly when it happened."""
    event_id = uuid.uuid4()
    now = timezone.now()
    envelope = envelope_for(event_id=event_id, kind=kind, workspace_id=workspace_id, session=session, data=data,
                            created_at=now)  # fmt: skip
    event = Event(id=event_id, workspace_id=workspace_id, session=session, type=kind, envelope=envelope, created_at=now)
    insert([event])  # now, or with the rest of an ingest batch (customer_events/deferred.py)
    session_id = str(session.pk) if session is not None else None
    # Within an ingest batch (one transaction) the workspace's endpoints are read once, not once per event. They are
    # locked FOR KEY SHARE (the lock the deliveries' foreign keys take at commit anyway, taken before they are made):
    # an endpoint being deleted is waited for and then left out, instead of failing this transaction at its commit.
    enabled = batch_memo(
        ("webhook-endpoints", str(workspace_id)),
        lambda: sql.key_share(WebhookEndpoint.objects.filter(workspace_id=workspace_id, enabled=True)),
    )
    endpoints = [endpoint for endpoint in enabled if endpoint_wants(endpoint, kind, session_id)]
    deliveries = [
        Delivery(workspace_id=workspace_id, endpoint=endpoint, event=event, next_attempt_at=now)
        for endpoint in endpoints
    ]
    insert(deliveries)
    delivery_ids = [str(d.pk) for d in deliveries]
    transaction.on_commit(lambda: _after_commit(workspace_id, envelope, delivery_ids))
    return event


def _after_commit(workspace_id: Any, envelope: dict[str, Any], delivery_ids: list[str]) -> None:
    jobs.deliver_webhooks(delivery_ids)
    group_send(events_group(workspace_id), {"type": "event.new", "envelope": envelope})
