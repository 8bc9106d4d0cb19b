"""Pacing: a session may send a small burst at once, then one message per 60/rate seconds on average. Measured on a
fake clock through wait_time, never by sleeping."""

from __future__ import annotations

import pytest

from worker_node import outbox as outbox_module
from worker_node.outbox import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(outbox_module.time, "monotonic", fake)
    return fake


def send_now(bucket: TokenBucket, clock: Clock) -> float:
    """Wait as the send loop does until a message may go; the seconds waited. Like a real sleep, each wait lasts a
    hair longer than asked (an exact fake clock could otherwise stay a rounding error short of a whole token)."""
    waited = 0.0
    while (delay := bucket.wait_time()) > 0:
        clock.advance(delay + 1e-9)
        waited += delay + 1e-9
    return waited


def test_the_burst_goes_out_at_once(clock: Clock) -> None:
    bucket = TokenBucket(rate_per_minute=30, burst=3)

    assert [bucket.wait_time() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.wait_time() > 0


@pytest.mark.parametrize("rate", [6, 30, 60, 600])
def test_after_the_burst_messages_are_paced_at_the_rate(clock: Clock, rate: int) -> None:
    bucket = TokenBucket(rate_per_minute=rate, burst=3)
    for _ in range(3):
        assert send_now(bucket, clock) == 0

    waits = [send_now(bucket, clock) for _ in range(5)]

    assert waits == pytest.approx([60 / rate] * 5)


def test_a_wait_is_what_remains_of_the_interval(clock: Clock) -> None:
    bucket = TokenBucket(rate_per_minute=60, burst=1)
    bucket.wait_time()

    clock.advance(0.25)

    assert bucket.wait_time() == pytest.approx(0.75)


def test_an_idle_session_earns_back_its_burst_but_no_more(clock: Clock) -> None:
    bucket = TokenBucket(rate_per_minute=60, burst=3)
    for _ in range(3):
        bucket.wait_time()

    clock.advance(3600)  # an hour idle: a burst of three again, not of 3600

    assert [bucket.wait_time() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.wait_time() == pytest.approx(1.0)


def test_the_burst_is_never_more_than_a_minutes_rate(clock: Clock) -> None:
    bucket = TokenBucket(rate_per_minute=2, burst=3)

    assert [bucket.wait_time() for _ in range(2)] == [0.0, 0.0]
    assert bucket.wait_time() == pytest.approx(30.0)


def test_a_new_rate_applies_to_the_next_wait(clock: Clock) -> None:
    bucket = TokenBucket(rate_per_minute=60, burst=1)
    bucket.wait_time()

    bucket.set_rate(600, burst=1)

    assert bucket.wait_time() == pytest.approx(0.1)


def test_a_rate_of_zero_is_treated_as_one_a_minute(clock: Clock) -> None:
    bucket = TokenBucket(rate_per_minute=0, burst=3)

    assert bucket.wait_time() == 0
    assert bucket.wait_time() == pytest.approx(60.0)
