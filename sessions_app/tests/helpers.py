"""Helpers shared by the sessions tests: worker events and snapshot objects in the S3 server."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from sessions_app.models import WhatsAppSession
from worker_node.contract.snapshots import snapshot_path


def event(session: WhatsAppSession, kind: str, data: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """An event envelope as a worker posts it, for ``session`` at its current epoch unless overridden."""
    return {
        "id": str(uuid.uuid4()),
        "session_id": str(session.pk),
        "epoch": session.epoch,
        "type": kind,
        "occurred_at": timezone.now().isoformat(),
        "data": data or {},
        **overrides,
    }


def put_snapshot(session: WhatsAppSession, content: bytes = b"SBS1 encrypted auth state") -> str:
    """Store an auth snapshot for ``session`` where workers put it, and return its path."""
    path = snapshot_path(session.pk)
    saved = default_storage.save(path, ContentFile(content))
    assert saved == path
    assert default_storage.exists(path)
    return path
