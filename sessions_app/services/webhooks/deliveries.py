"""Webhook deliveries: each event's attempts at an endpoint, with retries, a log, replays and disabling.

Deliveries are claimed with a lease (a conditional UPDATE moving ``next_attempt_at`` a minute ahead), so two Celery
workers never send the same attempt, and an attempt whose worker died is picked up again by the sweep when the lease
runs out: delivery is at least once, and receivers deduplicate by ``webhook-id`` (the event id).
"""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Role
from paas import sql
from sessions_app.models import Delivery, DeliveryAttempt, DeliveryStatus, WebhookEndpoint
from sessions_app.services import jobs
from sessions_app.services.webhooks.signing import headers_for
from worker_node.contract import netguard

logger = logging.getLogger(__name__)

# settings.WEBHOOK_RETRY_SCHEDULE: seconds before each attempt; by default at once, then 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h, 14 h, 20 h and 24 h (with ±10 % jitter). settings.WEBHOOK_LEASE_SECONDS: how long an attempt may be in
# flight before the sweep assumes its Celery worker died and tries again.
DISABLE_AFTER = timedelta(days=5)
SNIPPET = 1000


def delivery_replay(*, deliveries: Any) -> int:
    """Send these deliveries' events again, as new deliveries with a fresh attempt schedule."""
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
        jobs.deliver_webhooks_after_commit(ids)
    return len(created)


def claim(delivery_id: str) -> Delivery | None:
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).update(
        next_attempt_at=now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    )
    if not claimed:
        return None
    # None when its endpoint was deleted (with the delivery) right after the claim.
    return Delivery.objects.select_related("endpoint", "event").filter(pk=delivery_id).first()


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
            jobs.deliver_webhook_later_after_commit(str(delivery.pk), seconds=wait)


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
