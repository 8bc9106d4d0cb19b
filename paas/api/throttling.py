"""Request throttling on the cache (Redis in production): per API key, or per client address before auth.

A sliding-window counter: the requests of the current window plus those of the previous one, weighted by how much
of it the sliding window still covers. DRF's SimpleRateThrottle keeps a list of every request time and writes it
back after reading it: two trips to Redis and the whole list (up to the limit, 600 entries by default) pickled both
ways on every request, and two gateway processes that read the same list each write back their own, so requests
made at once were lost from the count. Here the count goes up with one atomic INCR, in the same trip as the read of
the previous window: correct across processes, and the same cost whatever the limit.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

if TYPE_CHECKING:  # DRF's views import the permission and throttle settings: no run-time import back
    from rest_framework.request import Request
    from rest_framework.views import APIView


class APIClientRateThrottle(BaseThrottle):
    scope = "api_client"

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        # Read at request time, so the limit follows settings.API_RATE_LIMIT (and tests can change it).
        limit, duration = SimpleRateThrottle.parse_rate(None, settings.API_RATE_LIMIT)  # type: ignore[arg-type]
        if limit is None or duration is None:
            return True
        key_id = getattr(request.auth, "pk", None)
        ident = f"key:{key_id}" if key_id is not None else f"ip:{self.get_ident(request)}"
        counter = _Counter(f"throttle_{self.scope}_{ident}", time.time(), duration)
        count, previous = counter.add()
        if previous * counter.covered + count <= limit:
            return True
        counter.take_back()  # refused requests do not count against the allowance
        self.retry_after = counter.wait(limit, count - 1, previous)
        return False

    def wait(self) -> float | None:
        return self.retry_after


class _Counter:
    """Requests per fixed window of ``duration`` seconds, in the cache; the sliding window is estimated from this
    window's count and the previous one's."""

    def __init__(self, name: str, now: float, duration: int) -> None:
        window = int(now // duration)
        self.this, self.before = f"{name}:{window}", f"{name}:{window - 1}"
        self.duration, self.elapsed = duration, now - window * duration
        self.covered = 1 - self.elapsed / duration  # the share of the previous window the sliding one still covers
        self.cache: Any = caches["throttle"]
        self.redis = isinstance(self.cache, RedisCache)

    def add(self) -> tuple[int, int]:
        """Count this request; this window's count with it, and the previous window's."""
        expiry = self.duration * 2
        if self.redis:
            this, client = self._redis_key_and_client()
            pipe = client.pipeline(transaction=False)
            pipe.incr(this)
            pipe.expire(this, expiry)
            pipe.get(self.cache.make_and_validate_key(self.before))
            count, _, previous = pipe.execute()
            return int(count), int(previous or 0)
        # Other caches (local memory under `make run`): add, then incr, is atomic within the process.
        self.cache.add(self.this, 0, timeout=expiry)
        try:
            count = self.cache.incr(self.this)
        except ValueError:  # it expired between the two calls
            self.cache.set(self.this, 1, timeout=expiry)
            count = 1
        return int(count), int(self.cache.get(self.before) or 0)

    def take_back(self) -> None:
        if self.redis:
            this, client = self._redis_key_and_client()
            client.decr(this)
        else:
            with contextlib.suppress(ValueError):  # it expired meanwhile: nothing to take back
                self.cache.decr(self.this)

    def _redis_key_and_client(self) -> tuple[str, Any]:
        this = self.cache.make_and_validate_key(self.this)
        return this, self.cache._cache.get_client(this, write=True)

    def wait(self, limit: int, allowed: int, previous: int) -> float:
        """Seconds until one more request would be allowed, if no other came. Within this window the previous one's
        weight falls as the window slides; past it, this window's count becomes the previous one."""
        if allowed < limit:  # previous > 0 here: previous * (covered - t / duration) + allowed + 1 <= limit
            return max(0.0, self.duration * (self.covered - (limit - allowed - 1) / previous))
        # Next window, t after its start: allowed * (1 - t / duration) + 1 <= limit.
        return self.duration * self.covered + self.duration * max(0.0, 1 - (limit - 1) / allowed)
