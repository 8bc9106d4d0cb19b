"""Webhook endpoints: where a workspace's events are delivered, with which filters, signed with which secret."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace
from paas import sql
from paas.api.errors import APIError
from sessions_app.models import Delivery, Event, WebhookEndpoint
from sessions_app.services import jobs
from sessions_app.services.customer_events.publish import envelope_for
from worker_node.contract import netguard

ROTATION_GRACE = timedelta(hours=24)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url(url: str) -> None:
    try:
        netguard.resolve(url, allow_private=settings.ALLOW_PRIVATE_NETWORK_TARGETS)
    except netguard.ForbiddenTarget as refused:
        raise APIError(refused.code, refused.message, details={"url": [refused.message]}) from None


def endpoint_create(*, workspace: Workspace, url: str, description: str = "", event_types: list[str] | None = None,
                    session_ids: list[str] | None = None, enabled: bool = True) -> WebhookEndpoint:  # fmt: skip
    check_url(url)
    return WebhookEndpoint.objects.create(
        workspace=workspace, url=url, description=description, event_types=event_types or [],
        session_ids=[str(s) for s in session_ids or []], enabled=enabled, secret=new_secret(),
    )  # fmt: skip


def endpoint_update(*, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    if "url" in changes:
        check_url(changes["url"])
    if changes.get("enabled") and not endpoint.enabled:
        endpoint.disabled_reason, endpoint.failing_since = "", None
        changes.update(disabled_reason="", failing_since=None)
    if "session_ids" in changes:
        changes["session_ids"] = [str(s) for s in changes["session_ids"]]
    for field, value in changes.items():
        setattr(endpoint, field, value)
    endpoint.save()
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its delivery log. Its row is locked first (FOR UPDATE): attempts being recorded and
    deliveries being made for it lock it too (FOR KEY SHARE or NO KEY UPDATE) before they write, so they finish
    first or find it gone afterwards. Without the lock an attempt logged while the log was being deleted failed the
    delete on its foreign key, or the two deadlocked."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        if locked is not None:
            locked.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret at once; the old one keeps signing alongside for 24 hours, so receivers can switch over."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return endpoint


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> Delivery:
    now = timezone.now()
    event = Event(workspace_id=endpoint.workspace_id, type="webhook.test", created_at=now)
    event.envelope = envelope_for(event_id=event.id, kind="webhook.test", workspace_id=endpoint.workspace_id,
                                  session=None, data={"endpoint": str(endpoint.pk)}, created_at=now)  # fmt: skip
    with transaction.atomic():
        if not sql.key_share(WebhookEndpoint.objects.filter(pk=endpoint.pk)):
            raise APIError("not_found", "No such webhook endpoint in this workspace.", status_code=404)  # deleted
        event.save()
        delivery = Delivery.objects.create(
            workspace_id=endpoint.workspace_id, endpoint=endpoint, event=event, next_attempt_at=now
        )
        jobs.deliver_webhooks_after_commit([str(delivery.pk)])
    return delivery
