"""Django's Redis cache with one connection pool per process.

Django keeps cache objects per async context, and under ASGI every request is a context of its own, so the stock
backend built a new connection pool, and opened a new Redis connection, for each request. Pools are thread-safe and
redis-py resets them after a fork, so one per server and options is shared by every cache object of the process.
So is the client over each pool: the stock backend builds a redis-py client for every cache call (every API request
makes one for its throttle, and a send one more for the outbox), and a client is as thread-safe as its pool.
``python -m bench.layers`` measures both against the stock backend (bench/README.md); the client internals this
leans on are listed in paas/INTERNALS.md (2) and checked by paas/tests/test_internals.py.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedPoolRedisCacheClient(RedisCacheClient):
    _shared_pools: ClassVar[dict[tuple[str, str], Any]] = {}
    _shared_clients: ClassVar[dict[int, Any]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def _get_connection_pool(self, write: bool) -> Any:
        client: Any = self  # django-stubs leaves out the client's internals
        index = client._get_connection_pool_index(write)
        server, options = client._servers[index], client._pool_options
        key = (server, repr(sorted(options.items(), key=lambda item: item[0])))
        with self._shared_lock:
            pool = self._shared_pools.get(key)
            if pool is None:
                pool = self._shared_pools[key] = client._pool_class.from_url(server, **options)
        return pool

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        client: Any = self
        pool = self._get_connection_pool(write)
        shared = self._shared_clients.get(id(pool))
        if shared is None:
            with self._shared_lock:
                shared = self._shared_clients.setdefault(id(pool), client._client(connection_pool=pool))
        return shared


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
