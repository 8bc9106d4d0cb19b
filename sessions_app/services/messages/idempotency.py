"""Idempotency-Key on send: the same key and body within 24 hours returns the first response; the same key with
another body is refused (422); a repeat while the first is still being handled is refused (409)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Workspace
from paas.api.errors import APIError, Conflict
from sessions_app.models import IdempotencyRecord

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any


def body_hash(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def run_once(*, workspace: Workspace, key: str, fingerprint: str, handle: Callable[[], tuple[int, Any]]) -> Replay:
    """Run ``handle`` once per (workspace, key); later calls replay its answer. Errors are not remembered, so a
    request refused as bad input can be corrected and sent again under the same key."""
    if not key or len(key) > 200 or "\x00" in key:  # PostgreSQL stores no NUL
        raise APIError("invalid_idempotency_key", "Idempotency-Key must be 1 to 200 characters, none of them NUL.")
    IdempotencyRecord.objects.filter(workspace=workspace, key=key, created_at__lt=timezone.now() - WINDOW).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(workspace=workspace, key=key, body_hash=fingerprint)
    except IntegrityError:
        existing = IdempotencyRecord.objects.get(workspace=workspace, key=key)
        if existing.body_hash != fingerprint:
            raise APIError(
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request body.",
                status_code=422,
            ) from None
        if existing.response_status is None:
            raise Conflict(
                "idempotency_in_flight", "A request with this Idempotency-Key is still being handled."
            ) from None
        return Replay(existing.response_status, existing.response_body)
    try:
        status, body = handle()
    except Exception:
        record.delete()
        raise
    IdempotencyRecord.objects.filter(pk=record.pk).update(response_status=status, response_body=body)
    return Replay(status, body)
