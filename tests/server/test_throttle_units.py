"""The login throttle's backoff rules, on a clock the test moves (no waiting)."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from brevettiai.server.errors import ApiError
from brevettiai.server.throttle import ADDRESS_CAP, USERNAME_CAP, LoginThrottle


def _run(coroutine: object) -> object:
    """Run a coroutine in a thread of its own: a test before this one may have left a loop running here."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_username_is_free_for_five_failures_then_backs_off_doubling_up_to_its_cap() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    waits = []
    for _ in range(14):
        throttle.failed("admin", f"10.0.0.{len(waits)}")  # a new address each time: only the username counts
        waits.append(throttle.retry_after("admin", "10.0.0.200"))
    assert waits[:5] == [0.0] * 5
    assert waits[5:10] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert waits[10:] == [USERNAME_CAP] * 4


def test_an_address_backs_off_up_to_its_own_cap_whatever_usernames_it_tries() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for index in range(40):
        throttle.failed(f"user{index}", "10.0.0.1")
    assert throttle.retry_after("someone-else", "10.0.0.1") == ADDRESS_CAP
    assert throttle.retry_after("someone-else", "10.0.0.2") == 0.0


def test_a_success_resets_and_old_failures_are_forgotten() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(7):
        throttle.failed("admin", "10.0.0.1")
    throttle.succeeded("admin", "10.0.0.1")
    assert throttle.retry_after("admin", "10.0.0.1") == 0.0
    for _ in range(5):
        throttle.failed("admin", "10.0.0.1")
    clock.now += 16 * 60  # quiet for longer than FORGET_AFTER
    throttle.failed("admin", "10.0.0.1")
    assert throttle.retry_after("admin", "10.0.0.1") == 0.0  # counted from 1 again


def test_a_locked_login_is_429_with_retry_after_and_never_runs_the_check() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(10):
        throttle.failed("admin", "10.0.0.1")
    called = []

    with pytest.raises(ApiError) as refused:
        _run(throttle.check("Admin ", "10.0.0.9", lambda: called.append(1)))
    assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) >= 1
    assert called == []
