"""Cache and channel layer: in-process by default, Redis when REDIS_URL is set."""

from __future__ import annotations

from urllib.parse import urlsplit

from paas.env import bad_value, env_str

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL and urlsplit(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
    raise bad_value("REDIS_URL", REDIS_URL, "redis://host:6379/0, rediss://… or unix://…")

# Keys of several deployments (or of the test run) can share one Redis without colliding.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "switchboard")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "paas.cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REDIS_KEY_PREFIX}:asgi", "capacity": 1000, "expiry": 60},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
