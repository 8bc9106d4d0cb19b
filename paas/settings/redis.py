"""Cache and channel layer: files under var/ and in-process by default, Redis when REDIS_URL is set."""

from __future__ import annotations

from urllib.parse import urlsplit

from paas.env import bad_value, env_str
from paas.settings.base import VAR_DIR

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL and urlsplit(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
    raise bad_value("REDIS_URL", REDIS_URL, "redis://host:6379/0, rediss://… or unix://…")

# Keys of several deployments (or of the test run) can share one Redis without colliding.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "switchboard")

if REDIS_URL:
    _redis_cache = {
        "BACKEND": "paas.cache.SharedPoolRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
    # "throttle": the API's request counters (paas/api/throttling.py); the same Redis.
    CACHES = {"default": _redis_cache, "throttle": _redis_cache}
    # A consumer waits for its next message in BZPOPMIN, which channels_redis times out after 5 s and then repeats.
    # redis-py 8 gives every socket a 5 s read timeout by default, which fired first: each idle WebSocket was dropped
    # after about 5 s. The read timeout must outlast the blocking wait; keepalive finds a dead peer meanwhile.
    CHANNEL_LAYER_SOCKET_TIMEOUT = 15
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                        "socket_connect_timeout": 2,
                        "socket_keepalive": True,
                    }
                ],
                "prefix": f"{REDIS_KEY_PREFIX}:asgi",
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
else:
    # Files, not process memory: the gateway, Celery and beat are separate processes even under `make run`, and the
    # outbox's "hand-over queued" mark that the gateway sets must be seen (and cleared) by Celery. A per-process
    # cache kept the mark in the gateway for its whole minute, so each send after the first waited for the sweep.
    # The request counters stay in memory: one gateway process counts its own requests, and a file cache's
    # increment (read, then write) would lose counts between concurrent requests.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        },
        "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
