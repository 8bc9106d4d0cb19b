"""How sandbox numbers reach each other: directly within one worker, through Redis pub/sub across workers.

Each sandbox number listens on ``<prefix>:sandbox:<digits>``; the set ``<prefix>:sandbox:numbers`` lists the numbers
online anywhere, for number checks. Without Redis only the numbers of this worker can talk to each other.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)
Receiver = Callable[[dict[str, Any]], Awaitable[None]]


class SandboxNetwork:
    def __init__(self, redis_url: str = "", prefix: str = "switchboard") -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.local: dict[str, Receiver] = {}
        self._redis: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._started = asyncio.Lock()

    def _channel(self, digits: str) -> str:
        return f"{self.prefix}:sandbox:{digits}"

    async def _ensure_started(self) -> None:
        if not self.redis_url or self._redis is not None:
            return
        async with self._started:
            if self._redis is not None:
                return
            import redis.asyncio as redis

            # A blocking pool: redis-py's default pool raises "Too many connections" past 100 concurrent commands.
            self._redis = redis.Redis.from_pool(redis.BlockingConnectionPool.from_url(self.redis_url, timeout=20))
            self._pubsub = self._redis.pubsub()
            await self._pubsub.psubscribe(self._channel("*"))
            self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except Exception:
                logger.exception("sandbox network: Redis read failed; retrying")
                await asyncio.sleep(1)
                continue
            if not message:
                continue
            digits = message["channel"].decode().rsplit(":", 1)[-1]
            receiver = self.local.get(digits)
            if receiver is not None:
                await self._hand(receiver, json.loads(message["data"]))

    @staticmethod
    async def _hand(receiver: Receiver, envelope: dict[str, Any]) -> None:
        try:
            await receiver(envelope)
        except Exception:
            logger.exception("sandbox network: a receiver failed")

    async def join(self, digits: str, receiver: Receiver) -> None:
        await self._ensure_started()
        self.local[digits] = receiver
        if self._redis is not None:
            await self._redis.sadd(self._channel("numbers"), digits)

    async def leave(self, digits: str) -> None:
        self.local.pop(digits, None)
        if self._redis is not None:
            await self._redis.srem(self._channel("numbers"), digits)

    async def deliver(self, digits: str, envelope: dict[str, Any]) -> bool:
        """Hand ``envelope`` to the number ``digits``; False when it is offline everywhere (WhatsApp would hold it)."""
        receiver = self.local.get(digits)
        if receiver is not None:
            asyncio.get_running_loop().create_task(self._hand(receiver, envelope))
            return True
        if self._redis is None:
            return False
        listeners = await self._redis.publish(self._channel(digits), json.dumps(envelope))
        return bool(listeners)

    async def is_online(self, digits: str) -> bool:
        if digits in self.local:
            return True
        if self._redis is None:
            return False
        return bool(await self._redis.sismember(self._channel("numbers"), digits))

    async def close(self) -> None:
        for digits in list(self.local):
            await self.leave(digits)
        if self._reader is not None:
            self._reader.cancel()
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()
