"""The framework internals paas/INTERNALS.md lists are still as we lean on them.

A fingerprint is the SHA-256 of a function's (or class's) source, first 16 hex digits: any change to that code, on
an upgrade, fails here and names the INTERNALS.md entry to re-check before the fingerprint is updated.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels_redis import utils as channels_redis_utils
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.db.models.sql.query import Query
from django.http import QueryDict


def fingerprint(code: Any) -> str:
    return hashlib.sha256(inspect.getsource(code).encode()).hexdigest()[:16]


def assert_fingerprints(entry: str, expected: dict[str, tuple[Any, str]]) -> None:
    changed = {name: fingerprint(code) for name, (code, digest) in expected.items() if fingerprint(code) != digest}
    assert not changed, f"changed since recorded; re-check paas/INTERNALS.md § {entry}, then update: {changed}"


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_asgi_handler_internals_are_as_assumed() -> None:
    assert_fingerprints("1 (the ASGI handler)", {
        "ASGIHandler.__init__": (ASGIHandler.__init__, "41379d4f4b69f900"),
        "ASGIHandler.__call__": (ASGIHandler.__call__, "f756809e9c9308dc"),
        "ASGIHandler.handle": (ASGIHandler.handle, "98faeb5bef800331"),
        "ASGIHandler.listen_for_disconnect": (ASGIHandler.listen_for_disconnect, "c729aa315c734f98"),
        "ASGIHandler.run_get_response": (ASGIHandler.run_get_response, "0234ea5fe09a5777"),
        "BaseHandler.load_middleware": (BaseHandler.load_middleware, "a1fb7ee5f8586195"),
        "BaseHandler.get_response_async": (BaseHandler.get_response_async, "ad82c920df0cebbb"),
    })  # fmt: skip
    assert parameters(ASGIHandler.handle) == ["self", "scope", "receive", "send"]
    assert parameters(ASGIHandler.listen_for_disconnect) == ["self", "receive"]
    assert parameters(BaseHandler.load_middleware) == ["self", "is_async"]
    assert parameters(BaseHandler.get_response_async) == ["self", "request"]


def test_the_redis_cache_client_internals_are_as_assumed() -> None:
    assert_fingerprints("2 (the Redis cache's pools)", {
        "RedisCacheClient": (RedisCacheClient, "5de49e5f7f9af970"),
        "RedisCache.__init__": (RedisCache.__init__, "40131bec6169f7fa"),
    })  # fmt: skip
    cache: Any = RedisCache("redis://127.0.0.1:6379/15", {"OPTIONS": {"socket_timeout": 2}})
    assert cache._class is RedisCacheClient
    client: Any = cache._cache  # django-stubs leaves out the client's internals
    assert client._servers == ["redis://127.0.0.1:6379/15"]
    assert client._pool_options["socket_timeout"] == 2
    assert client._pool_class is redis.ConnectionPool
    assert client._client is redis.Redis
    assert client._get_connection_pool_index(True) == 0
    assert parameters(RedisCacheClient.get_client) == ["self", "key", "write"]
    assert parameters(type(client)._get_connection_pool) == ["self", "write"]


def test_the_channel_layer_internals_are_as_assumed() -> None:
    assert_fingerprints("3 (channels_redis's group keys)", {
        "RedisChannelLayer._group_key": (RedisChannelLayer._group_key, "7e89938e1cb20f26"),
        "RedisChannelLayer.group_add": (RedisChannelLayer.group_add, "85ed67999d94bb85"),
        "RedisChannelLayer.group_send": (RedisChannelLayer.group_send, "c9623ea6ccfa7308"),
        "RedisChannelLayer.consistent_hash": (RedisChannelLayer.consistent_hash, "ba115e0235516e21"),
        "channels_redis.utils.decode_hosts": (channels_redis_utils.decode_hosts, "012afe3ce1b8e8a5"),
        "channels_redis.utils.create_pool": (channels_redis_utils.create_pool, "c706feb32b834078"),
    })  # fmt: skip
    host = {"address": "redis://127.0.0.1:6379/15", "socket_timeout": 15}
    layer = RedisChannelLayer(hosts=[host, {"address": "redis://127.0.0.1:6379/14"}], prefix="probe")
    assert layer.hosts[0] == host
    assert layer._group_key("live.x") == b"probe:group:live.x"
    assert all(layer.consistent_hash(f"group-{n}") in (0, 1) for n in range(20))


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis")
def test_a_group_member_is_counted_under_the_group_key() -> None:
    """What fanout.groups_with_members asks: ZCARD of the group's key, on the host consistent_hash names, through a
    synchronous pool built from that host's dict."""
    layer = RedisChannelLayer(hosts=[{"address": settings.REDIS_URL}], prefix=f"{settings.REDIS_KEY_PREFIX}:probe")
    group = "internals-probe"
    options = dict(layer.hosts[layer.consistent_hash(group)])
    client = redis.Redis(connection_pool=redis.ConnectionPool.from_url(options.pop("address"), **options))
    try:
        assert client.zcard(layer._group_key(group)) == 0
        async_to_sync(layer.group_add)(group, "specific.probe!one")
        assert client.type(layer._group_key(group)) == b"zset"
        assert client.zcard(layer._group_key(group)) == 1
    finally:
        client.delete(layer._group_key(group))
        client.close()
        async_to_sync(layer.flush)()


def test_query_sql_with_params_is_as_assumed() -> None:
    assert_fingerprints("4 (FOR KEY SHARE)", {"Query.sql_with_params": (Query.sql_with_params, "ea303db591a79358")})
    from sessions_app.models import WhatsAppSession

    statement, params = WhatsAppSession.objects.filter(epoch=3).query.sql_with_params()
    assert statement.startswith("SELECT ")
    assert " FOR " not in statement
    assert " LIMIT " not in statement
    assert tuple(params) == (3,)


def test_models_inserted_by_hand_have_no_database_filled_field() -> None:
    from sessions_app.models import Message

    for model in (Message,):  # every model that paas.sql.insert is used for
        filled = [field.name for field in model._meta.concrete_fields if getattr(field, "db_returning", False)]
        with_db_default = [field.name for field in model._meta.concrete_fields
                           if getattr(field, "has_db_default", lambda: False)()]  # fmt: skip
        assert (filled, with_db_default) == ([], []), "paas.sql.insert would leave these unset: INTERNALS.md § 5"


def test_a_querydict_is_made_read_only_by_its_mutable_flag() -> None:
    data = QueryDict(mutable=True)
    data.setlist("a", ["1"])
    data._mutable = False
    with pytest.raises(AttributeError):
        data["b"] = "2"
    assert data.getlist("a") == ["1"]
