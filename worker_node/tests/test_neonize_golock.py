"""GO_LOCK: exclusive for starts and stops of Go clients, shared for ordinary calls while they enter Go."""

from __future__ import annotations

import threading
import time

import pytest

from worker_node.engines.neonize.runtime import GO_LOCK, ClientGone, GoBusy, GoLock, go_call


def in_thread(fn, *args):
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(fn(*args)), daemon=True)
    thread.start()
    return thread, result


def test_it_is_a_lock_for_writers():
    lock = GoLock()

    with lock:
        assert lock.acquire(timeout=0.05) is False
        assert lock.acquire(blocking=False) is False
    assert lock.acquire(timeout=0.05) is True
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()


def test_a_writer_waits_for_a_call_entering_go_but_not_for_one_inside_it():
    lock = GoLock(entry_grace=0.3)
    ticket = lock.acquire_shared(1.0)
    assert ticket is not None

    started = time.monotonic()
    assert lock.acquire(timeout=2.0)
    waited = time.monotonic() - started
    lock.release()
    lock.release_shared(ticket)

    assert 0.25 <= waited < 1.0  # the grace, not the call's whole length (the call never returned)


def test_a_writer_goes_as_soon_as_the_call_returns():
    lock = GoLock(entry_grace=5.0)
    ticket = lock.acquire_shared(1.0)
    assert ticket is not None
    started = time.monotonic()
    thread, result = in_thread(lock.acquire, True, 5.0)
    time.sleep(0.05)
    lock.release_shared(ticket)
    thread.join(2)

    assert result == [True]
    assert time.monotonic() - started < 1.0
    lock.release()


def test_calls_wait_while_a_writer_holds_or_waits_and_waiting_calls_go_before_the_next_writer():
    lock = GoLock(entry_grace=0.2)
    order: list[str] = []
    lock.acquire()

    def call(name: str) -> None:
        ticket = lock.acquire_shared(5.0)
        order.append(name)
        assert ticket is not None
        lock.release_shared(ticket)

    def write(name: str) -> None:
        assert lock.acquire(timeout=5.0)
        order.append(name)
        lock.release()

    first_call, _ = in_thread(call, "call")
    time.sleep(0.05)
    second_writer, _ = in_thread(write, "second writer")
    time.sleep(0.05)
    assert order == []  # both wait for the writer holding the lock
    lock.release()
    first_call.join(2)
    second_writer.join(2)

    assert order == ["call", "second writer"]


def test_a_call_behind_a_writer_gives_up_after_its_wait():
    lock = GoLock()
    lock.acquire()
    assert lock.acquire_shared(0.05) is None
    lock.release()

    with GO_LOCK, pytest.raises(GoBusy):  # a stop stuck in Go: the call is not made
        go_call(lambda: True, lambda: "never", wait=0.05)


def test_go_call_refuses_a_client_that_is_being_stopped():
    made: list[str] = []

    with pytest.raises(ClientGone):
        go_call(lambda: False, made.append, "call")
    assert go_call(lambda: True, made.append, "call") is None

    assert made == ["call"]
