"""The worker's client for the gateway's /internal/v1/ API."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from worker_node import __version__
from worker_node.config import WorkerConfig
from worker_node.contract.events import EVENTS_PATH
from worker_node.identity import Identity, load_identity, save_identity

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """The gateway answered with an error, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class WorkerRefused(GatewayError):
    """The gateway refuses this worker's credentials (revoked, unknown, or a bad enrollment token): final."""


class GatewayClient:
    def __init__(self, config: WorkerConfig, timeout: float = 10.0) -> None:
        self.config = config
        self.identity: Identity | None = None
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    async def close(self) -> None:
        await self._http.close()

    async def _post(self, path: str, body: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = self.config.gateway_url + path
        try:
            async with self._http.post(url, json=body, headers=headers) as response:
                data: dict[str, Any] = await response.json(content_type=None) if response.content_length != 0 else {}
                if response.status >= 400:
                    error = (data or {}).get("error", {})
                    kind = WorkerRefused if response.status == 401 else GatewayError
                    raise kind(response.status, error.get("code", "error"), error.get("message", str(data)[:200]))
                return data
        except (aiohttp.ClientError, TimeoutError) as error:
            raise GatewayError(0, "unreachable", f"{url}: {error!r}") from error

    def _profile(self) -> dict[str, Any]:
        return {
            "name": self.config.name,
            "advertise_url": self.config.advertise_url,
            "engine": self.config.engine,
            "capacity": self.config.capacity,
            "version": __version__,
        }

    async def register(self) -> Identity:
        """Come back as the worker the data folder remembers, or enroll with the enrollment token."""
        known = load_identity(self.config.data_dir, self.config.gateway_url)
        if known is not None:
            await self._post("/internal/v1/workers/register", self._profile(), token=known.worker_token)
            self.identity = known
            logger.info("re-registered as worker %s", known.worker_id)
            return known
        if not self.config.enrollment_token:
            raise WorkerRefused(401, "enrollment_token_missing", "set WORKER_ENROLLMENT_TOKEN to enroll this worker")
        answer = await self._post(
            "/internal/v1/workers/register", {**self._profile(), "enrollment_token": self.config.enrollment_token}
        )
        identity = Identity(
            worker_id=answer["worker_id"], worker_token=answer["worker_token"], gateway_url=self.config.gateway_url
        )
        save_identity(self.config.data_dir, identity)
        self.identity = identity
        logger.info("enrolled as worker %s", identity.worker_id)
        return identity

    def _token(self) -> str:
        assert self.identity is not None, "register first"
        return self.identity.worker_token

    async def heartbeat(self, load: int, running: list[dict[str, Any]], stored: list[str]) -> dict[str, Any]:
        body = {"load": load, "sessions": running, "stored": stored}
        return await self._post("/internal/v1/heartbeat", body, token=self._token())

    async def post_events(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._post(EVENTS_PATH, {"events": events}, token=self._token())

    async def shutting_down(self) -> None:
        await self._post("/internal/v1/workers/shutdown", {}, token=self._token())
