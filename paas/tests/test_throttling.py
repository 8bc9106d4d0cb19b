"""The API's rate limit: a sliding-window counter in the cache, exact when requests race across threads (and
processes: the count goes up in Redis atomically), weighing the previous window by how much of it still counts,
not counting refused requests, and telling a Retry-After after which a request passes."""

from __future__ import annotations

import threading
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.throttling import SimpleRateThrottle

from paas.api import throttling
from paas.api.throttling import APIClientRateThrottle

MINUTE = 60.0


def a_request(key: str) -> Any:
    return SimpleNamespace(auth=SimpleNamespace(pk=key), META={"REMOTE_ADDR": "192.0.2.1"})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A clock at the start of a minute window, far from any real one."""
    fake = Clock(1_000_000 * MINUTE)
    monkeypatch.setattr(throttling.time, "time", fake.time)
    return fake


def allowed(key: str, count: int) -> list[bool]:
    return [APIClientRateThrottle().allow_request(a_request(key), None) for _ in range(count)]  # type: ignore[arg-type]


@override_settings(API_RATE_LIMIT="10/min")
def test_requests_that_race_are_all_counted() -> None:
    key, answers = str(uuid.uuid4()), []
    start = threading.Barrier(20)

    def one() -> None:
        start.wait()
        answers.append(APIClientRateThrottle().allow_request(a_request(key), None))  # type: ignore[arg-type]

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(True) == 10


def test_drf_s_own_throttle_loses_requests_that_race(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the counter: the stock throttle reads the history, then writes it back, so a race overwrites counts."""

    class Stock(SimpleRateThrottle):
        rate = "10/min"

        def get_cache_key(self, request: Any, view: Any) -> str:
            return "stock-throttle-race"

    cache.delete("stock-throttle-race")
    first, second = Stock(), Stock()
    # Both read the (empty) history before either writes it back, as two gateway processes at once do.
    first.key = second.key = "stock-throttle-race"
    first.history, second.history = cache.get("stock-throttle-race", []), cache.get("stock-throttle-race", [])
    first.now = second.now = 1.0
    first.throttle_success()
    second.throttle_success()
    assert len(cache.get("stock-throttle-race")) == 1  # two requests, one counted


@override_settings(API_RATE_LIMIT="10/min")
def test_the_previous_window_counts_as_much_as_the_sliding_window_still_covers(clock: Clock) -> None:
    key = str(uuid.uuid4())
    clock.now += 30
    assert allowed(key, 11) == [True] * 10 + [False]
    clock.now += 45  # 15 s into the next window: three quarters of the previous one still count (7.5)
    assert allowed(key, 3) == [True, True, False]
    clock.now += 30  # 45 s in: a quarter of it counts (2.5), with the 2 of this window
    assert allowed(key, 6) == [True] * 5 + [False]


@override_settings(API_RATE_LIMIT="3/min")
def test_refused_requests_do_not_use_up_the_next_window(clock: Clock) -> None:
    key = str(uuid.uuid4())
    assert allowed(key, 3 + 50) == [True] * 3 + [False] * 50
    clock.now += 2 * MINUTE  # the window after next: nothing counts any more
    assert allowed(key, 4) == [True] * 3 + [False]


@override_settings(API_RATE_LIMIT="3/min")
@pytest.mark.parametrize("start", [0.0, 20.0, 59.0])
def test_a_request_after_the_retry_after_passes_and_one_before_it_does_not(clock: Clock, start: float) -> None:
    key = str(uuid.uuid4())
    clock.now += start
    allowed(key, 3)
    refused = APIClientRateThrottle()
    assert not refused.allow_request(a_request(key), None)  # type: ignore[arg-type]
    wait = refused.wait()
    assert wait is not None
    assert wait > 0
    now = clock.now
    clock.now = now + wait - 0.5
    assert allowed(key, 1) == [False]
    clock.now = now + wait + 0.01
    assert allowed(key, 1) == [True]


@override_settings(
    API_RATE_LIMIT="3/min",
    CACHES={**settings.CACHES, "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
)
def test_the_local_memory_cache_of_make_run_counts_the_same_way(clock: Clock) -> None:
    key = str(uuid.uuid4())
    assert allowed(key, 4) == [True, True, True, False]
    clock.now += 2 * MINUTE
    assert allowed(key, 1) == [True]
