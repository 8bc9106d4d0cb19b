"""Webhook endpoints and deliveries, signed to the Standard Webhooks scheme.

Deliveries are claimed with a lease (a conditional UPDATE moving ``next_attempt_at`` a minute ahead), so two Celery
workers never send the same attempt, and an attempt whose worker died is picked up again by the sweep when the lease
runs out: delivery is at least once, and receivers deduplicate by ``webhook-id`` (the event id).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Role, Workspace
from paas import sql
from paas.api.errors import APIError
from sessions_app.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, WebhookEndpoint
from worker_node.contract import netguard

logger = logging.getLogger(__name__)

# settings.WEBHOOK_RETRY_SCHEDULE: seconds before each attempt; by default at once, then 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h, 14 h, 20 h and 24 h (with ±10 % jitter). settings.WEBHOOK_LEASE_SECONDS: how long an attempt may be in
# flight before the sweep assumes its Celery worker died and tries again.
ROTATION_GRACE = timedelta(hours=24)
DISABLE_AFTER = timedelta(days=5)
SNIPPET = 1000


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def check_url(url: str) -> None:
    try:
        netguard.resolve(url, allow_private=settings.ALLOW_PRIVATE_NETWORK_TARGETS)
    except netguard.ForbiddenTarget as refused:
        raise APIError(refused.code, refused.message, details={"url": [refused.message]}) from None


# --- endpoints --------------------------------------------------------------------------------------------------


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
    from sessions_app.services.publish import envelope_for
    from sessions_app.tasks import deliver_webhook

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
        transaction.on_commit(lambda: deliver_webhook.delay(str(delivery.pk)))
    return delivery


def replay(*, deliveries: Any) -> int:
    """Send these deliveries' events again, as new deliveries with a fresh attempt schedule."""
    from sessions_app.tasks import deliver_webhook

    now = timezone.now()
    created = []
    with transaction.atomic():
        olds = list(deliveries)
        # An endpoint deleted meanwhile takes its deliveries with it: nothing to replay there.
        alive = {e.pk for e in sql.key_share(WebhookEndpoint.objects.filter(pk__in={o.endpoint_id for o in olds}))}
        for old in olds:
            if old.endpoint_id not in alive:
                continue
            created.append(
                Delivery.objects.create(
                    workspace_id=old.workspace_id, endpoint_id=old.endpoint_id, event_id=old.event_id,
                    next_attempt_at=now,
                )
            )  # fmt: skip
        ids = [str(d.pk) for d in created]
        transaction.on_commit(lambda: [deliver_webhook.delay(i) for i in ids])
    return len(created)


# --- delivery ---------------------------------------------------------------------------------------------------


def claim(delivery_id: str) -> Delivery | None:
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).update(
        next_attempt_at=now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    )
    if not claimed:
        return None
    # None when its endpoint was deleted (with the delivery) right after the claim.
    return Delivery.objects.select_related("endpoint", "event").filter(pk=delivery_id).first()


def headers_for(endpoint: WebhookEndpoint, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    signatures = [sign(endpoint.secret, msg_id, timestamp, body)]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > timezone.now()
    ):
        signatures.append(sign(endpoint.previous_secret, msg_id, timestamp, body))
    return {
        "Content-Type": "application/json",
        "User-Agent": "Switchboard-Webhooks/1.0",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def attempt(delivery_id: str) -> Delivery | None:
    """One attempt of a due delivery; None when it was not due (or another worker holds it)."""
    delivery = claim(delivery_id)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, completed_at=timezone.now())
        return delivery
    body = json.dumps(delivery.event.envelope, separators=(",", ":")).encode()
    timestamp = int(time.time())
    started = time.monotonic()
    status_code: int | None = None
    snippet = error = ""
    retry_after: float | None = None
    try:
        response = netguard.request(
            "POST", endpoint.url, body=body, headers=headers_for(endpoint, str(delivery.event_id), timestamp, body),
            timeout=settings.WEBHOOK_TIMEOUT, max_bytes=SNIPPET * 4, truncate=True,
            allow_private=settings.ALLOW_PRIVATE_NETWORK_TARGETS,
        )  # fmt: skip
        status_code = response.status
        snippet = response.body.decode(errors="replace")[:SNIPPET]
        retry_after = _retry_after(response.headers.get("retry-after", "")) if status_code in (429, 503) else None
    except netguard.ForbiddenTarget as refused:
        error = f"{refused.code}: {refused.message}"
    except netguard.FetchError as failure:
        error = f"{failure.code}: {failure.message}"
    latency = round((time.monotonic() - started) * 1000)
    logged = DeliveryAttempt(
        delivery=delivery, status_code=status_code, latency_ms=latency, response_snippet=snippet, error=error[:300]
    )
    return delivery if _record(delivery, logged, retry_after) else None


@transaction.atomic
def _record(delivery: Delivery, logged: DeliveryAttempt, retry_after: float | None) -> bool:
    """Log the attempt and settle the delivery, under a lock on the endpoint's row taken before anything is written
    (endpoint_delete takes it first too); False when the endpoint was deleted during the attempt. A success takes
    it FOR KEY SHARE, so the deliveries of a busy endpoint do not wait for each other; a failure FOR NO KEY UPDATE,
    one at a time (see _settle)."""
    status_code = logged.status_code
    endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    if status_code is not None and 200 <= status_code < 300:
        endpoint = next(iter(sql.key_share(endpoints)), None)
    else:
        endpoint = endpoints.select_for_update(no_key=True).first()
    if endpoint is None:
        return False
    logged.save()
    _settle(delivery, status_code, retry_after, locked=endpoint)
    return True


def _retry_after(value: str) -> float | None:
    if value.strip().isdigit():
        return float(value.strip())
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


@transaction.atomic
def _settle(
    delivery: Delivery, status_code: int | None, retry_after: float | None, locked: WebhookEndpoint | None = None
) -> None:
    now = timezone.now()
    delivery.attempt_count += 1
    delivery.last_status_code = status_code
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.completed_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, now, None
        # No lock on the endpoint: every delivery to it succeeds this way, and holding its row until commit made
        # the deliveries of a busy endpoint wait for each other. A failure that set failing_since meanwhile is
        # cleared by this later success, as it would have been in turn.
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, failing_since__isnull=False).update(failing_since=None)
    else:
        # Failures keep the endpoint's failing period and its disabling consistent: one at a time.
        endpoint = locked or WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=delivery.endpoint_id)
        _settle_failure(delivery, endpoint, status_code, retry_after, now)
    delivery.save(update_fields=["attempt_count", "last_status_code", "status", "completed_at", "next_attempt_at"])
    if delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None:
        wait = (delivery.next_attempt_at - now).total_seconds()
        if wait <= 300:  # short waits go straight to Celery; longer ones are picked up by the sweep
            from sessions_app.tasks import deliver_webhook

            delivery_id = str(delivery.pk)
            transaction.on_commit(lambda: deliver_webhook.apply_async((delivery_id,), countdown=max(wait, 0)))


def _settle_failure(
    delivery: Delivery, endpoint: WebhookEndpoint, status_code: int | None, retry_after: float | None, now: datetime
) -> None:
    if status_code == 410:
        delivery.status, delivery.completed_at, delivery.next_attempt_at = DeliveryStatus.FAILED, now, None
        _disable(endpoint, "The endpoint answered 410 Gone.")
        return
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
    if now - endpoint.failing_since >= DISABLE_AFTER:
        _disable(endpoint, "Every delivery failed for 5 days.")
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if delivery.attempt_count >= len(schedule) or not endpoint.enabled:
        delivery.status, delivery.completed_at, delivery.next_attempt_at = DeliveryStatus.FAILED, now, None
    else:
        delay = schedule[delivery.attempt_count] * random.uniform(0.9, 1.1)  # noqa: S311  (jitter, not secrecy)
        if retry_after is not None:
            delay = max(delay, min(retry_after, schedule[-1]))
        delivery.next_attempt_at = now + timedelta(seconds=delay)


def _disable(endpoint: WebhookEndpoint, reason: str) -> None:
    if not endpoint.enabled:
        return
    endpoint.enabled, endpoint.disabled_reason = False, reason
    endpoint.save(update_fields=["enabled", "disabled_reason"])
    owners = list(
        Membership.objects.filter(workspace_id=endpoint.workspace_id, role=Role.OWNER).values_list(
            "user__email", flat=True
        )
    )
    url = endpoint.url

    def notify() -> None:
        send_mail(
            subject="[Switchboard] A webhook endpoint was disabled",
            message=f"Deliveries to {url} are switched off: {reason}\n\nFix the endpoint, then enable it again in "
            f"the portal or through the API; failed deliveries can be replayed.",
            from_email=None,
            recipient_list=owners,
        )

    if owners:
        transaction.on_commit(notify)


def due_deliveries(limit: int = 500) -> list[str]:
    now = timezone.now()
    ids = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).values_list("pk", flat=True)
    return [str(x) for x in ids[:limit]]


def failed_since(*, endpoint: WebhookEndpoint, since: datetime) -> Any:
    return Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.FAILED, created_at__gte=since)
