"""Enrollment tokens and worker registration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from paas.api.errors import APIError
from worker_node.contract.tokens import ENROLLMENT_TOKEN, WORKER_TOKEN, TokenKind
from workers_app.models import EnrollmentToken, Worker, WorkerState
from workers_app.services.placement import release_sessions_of


@dataclass(frozen=True)
class IssuedEnrollmentToken:
    token: EnrollmentToken
    raw: str


def enrollment_token_create(
    *, name: str, created_by: Any = None, expires_at: datetime | None = None, max_uses: int | None = None
) -> IssuedEnrollmentToken:
    issued = ENROLLMENT_TOKEN.issue()
    token = EnrollmentToken.objects.create(
        name=name,
        prefix=issued.prefix,
        token_hash=issued.hash,
        created_by=created_by,
        expires_at=expires_at,
        max_uses=max_uses,
    )
    return IssuedEnrollmentToken(token=token, raw=issued.raw)


def enrollment_token_revoke(*, token: EnrollmentToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def _unauthorized(code: str, message: str) -> APIError:
    return APIError(code, message, status_code=401)


def _find(kind: TokenKind, model: type[Any], raw: str, prefix_field: str, hash_field: str) -> Any:
    if not kind.is_well_formed(raw):
        return None
    # On the ORM: one lookup per event batch or heartbeat, a small share of either (bench/README.md, benchmark 3).
    row = model._default_manager.filter(**{prefix_field: kind.public_prefix(raw)}).first()
    if row is None or not kind.matches(raw, getattr(row, hash_field)):
        return None
    return row


@dataclass(frozen=True)
class WorkerProfile:
    name: str
    advertise_url: str
    engine: str
    capacity: int
    version: str


@dataclass(frozen=True)
class Registration:
    worker: Worker
    raw_token: str | None  # only for a new worker; a re-registering one already holds its token


@transaction.atomic
def worker_register(*, enrollment_token: str, profile: WorkerProfile) -> Registration:
    token = _find(ENROLLMENT_TOKEN, EnrollmentToken, enrollment_token, "prefix", "token_hash")
    if token is None:
        raise _unauthorized("enrollment_token_invalid", "This enrollment token does not exist.")
    token = EnrollmentToken.objects.select_for_update(no_key=True).get(pk=token.pk)
    refusal = token.refusal()
    if refusal is not None:
        raise _unauthorized(refusal, f"This enrollment token cannot be used ({refusal.replace('_', ' ')}).")
    EnrollmentToken.objects.filter(pk=token.pk).update(uses=F("uses") + 1)
    issued = WORKER_TOKEN.issue()
    worker = Worker.objects.create(
        name=profile.name,
        advertise_url=profile.advertise_url,
        engine=profile.engine,
        capacity=profile.capacity,
        version=profile.version,
        token_prefix=issued.prefix,
        token_hash=issued.hash,
        enrolled_with=token,
        last_heartbeat_at=timezone.now(),
    )
    return Registration(worker=worker, raw_token=issued.raw)


@transaction.atomic
def worker_reregister(*, worker: Worker, profile: WorkerProfile) -> Registration:
    """A restarted worker presents its own token: it comes back as the same worker, keeping its sessions."""
    worker = Worker.objects.select_for_update(no_key=True).get(pk=worker.pk)
    worker.name = profile.name
    worker.advertise_url = profile.advertise_url
    worker.engine = profile.engine
    worker.capacity = profile.capacity
    worker.version = profile.version
    worker.last_heartbeat_at = timezone.now()
    if worker.state == WorkerState.DEAD:
        worker.state = WorkerState.ACTIVE
    worker.save()
    return Registration(worker=worker, raw_token=None)


def worker_authenticate(raw: str) -> Worker:
    worker = _find(WORKER_TOKEN, Worker, raw, "token_prefix", "token_hash")
    if worker is None:
        raise _unauthorized("worker_token_invalid", "This worker token does not exist.")
    if worker.state == WorkerState.REVOKED:
        raise _unauthorized("worker_revoked", "This worker has been revoked by an operator.")
    return worker


@transaction.atomic
def worker_revoke(*, worker: Worker) -> None:
    Worker.objects.filter(pk=worker.pk).update(state=WorkerState.REVOKED, revoked_at=timezone.now())
    release_sessions_of(worker_id=worker.pk, reason="worker revoked")


@transaction.atomic
def worker_shutdown(*, worker: Worker) -> None:
    """A worker stopping cleanly (SIGTERM): its sessions go to the others now rather than after the dead-after wait.
    With no other worker they wait as pending and return to it when it registers again."""
    Worker.objects.filter(pk=worker.pk, state=WorkerState.ACTIVE).update(state=WorkerState.DEAD)
    release_sessions_of(worker_id=worker.pk, reason=f"worker {worker.name} shut down")
