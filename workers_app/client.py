"""The gateway's client for a worker's HTTP server: its commands, signed with the worker's token hash."""

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
from worker_node.contract import commands
from worker_node.contract.signing import sign
from workers_app.models import Worker

logger = logging.getLogger(__name__)
_background = ThreadPoolExecutor(max_workers=8, thread_name_prefix="worker-command")


class WorkerUnavailable(APIError):
    def __init__(self, message: str = "The worker hosting this session cannot be reached; try again shortly.") -> None:
        super().__init__("worker_unavailable", message, status_code=503)


@functools.cache
def _pool() -> urllib3.PoolManager:
    """One pool per process, so commands reuse connections: a pool of kept-alive connections per worker. urllib3
    (also behind worker_node/contract/netguard.py) rather than httpx: it spends less CPU per request, and at moderate
    rates a message's hand-over is a request of its own."""
    return urllib3.PoolManager(num_pools=256, maxsize=32, retries=False)


def call_worker(worker: Worker, path: str, payload: Any, *, timeout: float | None = None) -> dict[str, Any]:
    """POST one signed command; the worker's JSON answer."""
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


def session_payload(session: WhatsAppSession) -> commands.SessionSpec:
    return {
        "id": str(session.pk),
        "epoch": session.epoch,
        "engine": session.engine,
        "pairing_method": session.pairing_method,
        "pairing_phone": session.pairing_phone,
    }


class WorkerClient:
    """One method per worker command (``worker_node/contract/commands.py``), for the worker that holds ``session``.

    Start, stop, logout and forget go after commit and in the background (``*_after_commit``); the rest need the
    worker's answer and are sent at once, raising ``WorkerUnavailable`` or a 409 ``APIError`` with the worker's code.
    """

    def __init__(self, session: WhatsAppSession, worker: Worker | None = None) -> None:
        self.session = session
        self.worker = worker if worker is not None else session.worker

    def _call(self, command: str, payload: Any, *, timeout: float | None = None, sandbox_command: str = "") -> Any:
        assert self.worker is not None, "the session has no worker"
        path = commands.command_path(self.session.pk, command, sandbox_command)
        return call_worker(self.worker, path, payload, timeout=timeout)

    def lifecycle_after_commit(self, command: commands.LifecycleCommand) -> None:
        """Tell the worker to start, stop, log out or forget, once the change is committed; failures are logged,
        because the next heartbeat reconciles whatever a lost command left undone."""
        worker = self.worker
        if worker is None:
            return
        path = commands.command_path(self.session.pk, command)
        payload = session_payload(self.session)

        def send() -> None:
            try:
                call_worker(worker, path, payload)
            except APIError as error:
                logger.info("command %s to %s not delivered (%s); the next heartbeat reconciles", path, worker.name,
                            error)  # fmt: skip

        transaction.on_commit(lambda: _background.submit(send))

    def pair_phone(self, phone: str) -> commands.PairPhoneAnswer:
        body: commands.PairPhone = {**session_payload(self.session), "phone": phone}
        answer: commands.PairPhoneAnswer = self._call(commands.PAIR_PHONE, body, timeout=20)
        return answer

    def sandbox(self, command: str, payload: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(commands.SANDBOX, {**session_payload(self.session), **payload},
                                            sandbox_command=command)  # fmt: skip
        return answer

    def outbox(self, body: commands.Outbox) -> commands.OutboxAnswer:
        answer: commands.OutboxAnswer = self._call(commands.OUTBOX, body, timeout=10)
        return answer

    def mark_read(self, body: commands.MarkRead) -> None:
        self._call(commands.MARK_READ, body)

    def check_numbers(self, phones: list[str]) -> commands.CheckNumbersAnswer:
        body: commands.CheckNumbers = {"phones": phones}
        answer: commands.CheckNumbersAnswer = self._call(commands.CHECK_NUMBERS, body)
        return answer

    def presence(self, body: commands.Presence) -> None:
        self._call(commands.PRESENCE, body)
