"""The webhook receiver of bench.webhooks: an HTTP server on 127.0.0.1 in the benchmark's own process that answers
every POST with 200 at once and remembers when each arrived, for the latency and delivery-rate figures."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bench.procs import free_port

MAX_HITS = 200_000


@dataclass
class Hit:
    at: float  # time.time() on arrival
    path: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers every POST with 200 at once and remembers it (bounded)."""

    port: int = field(default_factory=free_port)
    hits: list[Hit] = field(default_factory=list)
    runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        at = time.time()
        body = await request.read()
        if len(self.hits) < MAX_HITS:
            names = ("webhook-id", "webhook-timestamp", "webhook-signature")
            headers = {k: request.headers.get(k, "") for k in names}
            self.hits.append(Hit(at, request.path, headers["webhook-id"], headers, body))
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def distinct(self, path: str, since: int = 0) -> dict[str, Hit]:
        """The first arrival of each webhook-id at ``path`` among the hits from index ``since`` on."""
        first: dict[str, Hit] = {}
        for hit in self.hits[since:]:
            if hit.path == path:
                first.setdefault(hit.webhook_id, hit)
        return first

    async def wait_for(self, path: str, count: int, *, since: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.distinct(path, since)) >= count:
                return True
            await asyncio.sleep(0.1)
        return False


def verify(secret: str, hits: list[Hit]) -> int:
    """How many of ``hits`` the Standard Webhooks reference library refuses."""
    webhook, refused = Webhook(secret), 0
    for hit in hits:
        try:
            webhook.verify(hit.body, hit.headers)
        except WebhookVerificationError:
            refused += 1
    return refused
