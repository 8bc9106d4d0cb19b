"""A send request as the API takes it: once per Idempotency-Key, and optionally waited on until the worker sent it."""

from __future__ import annotations

import json
import time
from typing import Any

from django.db import connection

from accounts.models import Workspace
from sessions_app.models import Message, MessageStatus, WhatsAppSession
from sessions_app.services.messages import idempotency
from sessions_app.services.messages.payloads import message_data
from sessions_app.services.messages.send import message_send

POLL_SECONDS = 0.05


def message_send_request(
    *, workspace: Workspace, session: WhatsAppSession, request_data: Any, validated: dict[str, Any], upload: Any,
    idempotency_key: str | None,
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """Send the message (``validated`` by MessageSendSerializer from ``request_data``, the body as parsed) and give
    the answer's status and body. With an Idempotency-Key the first answer is replayed for the same body; with
    ``wait`` the answer shows the message as it is once it left the queue, or when the wait is over."""

    def handle() -> tuple[int, Any]:
        message = message_send(session=session, data=validated, upload=upload)
        return 202, message_data(message)

    if idempotency_key:
        # The request as parsed, so the same body in another key order or encoding counts as the same.
        parts = [str(session.pk).encode(), json.dumps(request_data, sort_keys=True, default=str).encode()]
        if upload:
            parts.append(upload.read())
            upload.seek(0)
        replay = idempotency.run_once(
            workspace=workspace, key=idempotency_key, fingerprint=idempotency.body_hash(parts), handle=handle
        )
        code, body = replay.status, replay.body
    else:
        code, body = handle()
    wait = validated.get("wait")
    if wait:
        body = message_wait_until_sent(message_id=body["id"], wait=wait) or body
    return code, body


def message_wait_until_sent(*, message_id: str, wait: float) -> dict[str, Any] | None:
    """The message once its status moved on from queued, or as it is when ``wait`` seconds are over. Statuses are
    written by event ingest, in any gateway process, so the row is read again until then."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        message = Message.objects.get(pk=message_id)
        if message.status != MessageStatus.QUEUED:
            return message_data(message)
        if not connection.in_atomic_block:
            connection.close()  # back to the pool while waiting: waiting requests must not hold every connection
        time.sleep(POLL_SECONDS)
    return message_data(Message.objects.get(pk=message_id))
