"""Connections are reused across requests: one Redis pool and one PostgreSQL pool per process."""

from __future__ import annotations

import contextvars
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from paas.cache import SharedPoolRedisCache

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis")


def _cache_in_new_context() -> Any:
    # Django keeps one cache object per async context; every ASGI request is a new context.
    cache = contextvars.Context().run(lambda: caches["default"])
    assert isinstance(cache, SharedPoolRedisCache)
    return cache


def _connected_clients() -> int:
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return int(client.info("clients")["connected_clients"])
    finally:
        client.close()


def test_cache_objects_of_different_requests_share_one_pool() -> None:
    first, second = _cache_in_new_context(), _cache_in_new_context()
    assert first is not second
    assert first._cache._get_connection_pool(True) is second._cache._get_connection_pool(True)
    first.set("shared-pool-probe", 42, 30)
    assert second.get("shared-pool-probe") == 42


def test_cache_objects_of_different_requests_share_one_client() -> None:
    first, second = _cache_in_new_context(), _cache_in_new_context()
    client = first._cache.get_client("probe", write=True)
    assert second._cache.get_client("probe", write=True) is client
    assert client.connection_pool is first._cache._get_connection_pool(True)


def test_the_stock_backend_would_open_a_pool_per_request() -> None:
    """Why the shared pool exists: Django's own client keeps its pool on the cache object."""
    params = {"KEY_PREFIX": "probe"}
    first: Any = RedisCache(settings.REDIS_URL, params)
    second: Any = RedisCache(settings.REDIS_URL, params)
    assert first._cache._get_connection_pool(True) is not second._cache._get_connection_pool(True)


def test_many_requests_do_not_open_redis_connections() -> None:
    _cache_in_new_context().get("warm-up")
    before = _connected_clients()
    for n in range(60):
        _cache_in_new_context().set(f"probe-{n}", n, 30)
    # Other tests' processes may connect meanwhile; 60 new connections would not fit in this margin.
    assert _connected_clients() - before < 10


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the pool is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_closed_database_connections_go_back_to_the_pool() -> None:
    pool = getattr(connection, "pool", None)
    assert pool is not None
    backends = set()
    for _ in range(20):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backends.add(cursor.fetchone())
        connection.close()  # what Django does at the end of every request
    # Without the pool every round would be a new PostgreSQL backend; the pool keeps a few and hands them out again,
    # each in turn (earlier tests that ran queries in threads may have left it more than one).
    kept = pool.get_stats()["pool_size"]
    assert len(backends) <= max(kept, 3) < 20
