"""Commands from the gateway to a worker's HTTP server, signed with the worker's token hash.

Start, stop and logout are sent after commit and in the background: they only make things happen sooner, because the
next heartbeat reconciles whatever a lost command left undone. Pairing codes and sandbox commands need the worker's
answer and are sent synchronously.
"""

from __future__ import annotations

import functools
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3
from django.conf import settings
from django.db import transaction

from paas.api.errors import APIError
from sessions_app.models import WhatsAppSession
from worker_node.signing import sign
from workers_app.models import Worker

logger = logging.getLogger(__name__)
_background = ThreadPoolExecutor(max_workers=8, thread_name_prefix="worker-command")


class WorkerUnavailable(APIError):
    def __init__(self, message: str = "The worker hosting this session cannot be reached; try again shortly.") -> None:
        super().__init__("worker_unavailable", message, status_code=503)


@functools.cache
def _pool() -> urllib3.PoolManager:
    """One pool per process, so commands reuse connections: a pool of kept-alive connections per worker. urllib3
    (also behind paas/netguard.py) rather than httpx: it spends less CPU per request, and at moderate rates a
    message's hand-over is a request of its own."""
    return urllib3.PoolManager(num_pools=256, maxsize=32, retries=False)


def call_worker(worker: Worker, path: str, payload: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **sign(worker.token_hash, "POST", path, body)}
    url = worker.advertise_url.rstrip("/") + path
    seconds = timeout or settings.WORKER_COMMAND_TIMEOUT
    try:
        # No retries and no redirects: a command that did not arrive is sent again by its caller (a later
        # hand-over, the next heartbeat), and a worker never redirects.
        response = _pool().request("POST", url, body=body, headers=headers, redirect=False,
                                   timeout=urllib3.Timeout(connect=seconds, read=seconds))  # fmt: skip
    except (urllib3.exceptions.HTTPError, ValueError) as error:  # ValueError: an advertised URL that is not one
        raise WorkerUnavailable() from error
    data: dict[str, Any] = {}
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(response.data)
        except ValueError:
            data = {}
    if response.status >= 500:
        raise WorkerUnavailable()
    if response.status >= 300:
        refusal = data.get("error", {})
        raise APIError(
            refusal.get("code", "worker_refused"), refusal.get("message", "The worker refused."), status_code=409
        )
    return data


def session_payload(session: WhatsAppSession) -> dict[str, Any]:
    return {
        "id": str(session.pk),
        "epoch": session.epoch,
        "engine": session.engine,
        "pairing_method": session.pairing_method,
        "pairing_phone": session.pairing_phone,
    }


def command_after_commit(session: WhatsAppSession, action: str) -> None:
    """Tell the session's worker to start, stop or log out, once the change is committed; failures are logged."""
    worker = session.worker
    if worker is None:
        return
    path = f"/sessions/{session.pk}/{action}"
    payload = session_payload(session)

    def send() -> None:
        try:
            call_worker(worker, path, payload)
        except APIError as error:
            logger.info("command %s to %s not delivered (%s); the next heartbeat reconciles", path, worker.name, error)

    transaction.on_commit(lambda: _background.submit(send))
