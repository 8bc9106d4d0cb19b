"""Django's Redis cache with one connection pool per process.

Django keeps cache objects per async context, and under ASGI every request is a context of its own, so the stock
backend built a new connection pool, and opened a new Redis connection, for each request (about a tenth of the
gateway's time under load). Pools are thread-safe and redis-py resets them after a fork, so one per server and
options is shared by every cache object of the process.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedPoolRedisCacheClient(RedisCacheClient):
    _shared_pools: ClassVar[dict[tuple[str, str], Any]] = {}
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


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
