"""The login throttle: a few free failures, then lock-outs that double; bounded whatever is sent."""

from __future__ import annotations

from service.users import LoginThrottle, csrf_token

KEYS = LoginThrottle.keys("admin", "10.0.0.1")


def test_first_failures_are_free_then_each_locks_twice_as_long() -> None:
    throttle = LoginThrottle(free=3)
    waits = []
    for _ in range(6):
        throttle.failed(KEYS, now=100.0)
        waits.append(throttle.wait(KEYS, now=100.0))
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0]


def test_a_lock_expires_with_time() -> None:
    throttle = LoginThrottle(free=1)
    throttle.failed(KEYS, now=0.0)
    throttle.failed(KEYS, now=0.0)
    assert throttle.wait(KEYS, now=1.5) == 0.5
    assert throttle.wait(KEYS, now=2.0) == 0.0


def test_the_lock_is_capped() -> None:
    throttle = LoginThrottle(free=0, longest=60.0)
    for _ in range(40):
        throttle.failed(KEYS, now=0.0)
    assert throttle.wait(KEYS, now=0.0) == 60.0


def test_user_and_address_are_locked_separately() -> None:
    throttle = LoginThrottle(free=0)
    throttle.failed(LoginThrottle.keys("admin", "10.0.0.1"), now=0.0)
    assert throttle.wait(LoginThrottle.keys("admin", "10.9.9.9"), now=0.0) > 0
    assert throttle.wait(LoginThrottle.keys("bob", "10.0.0.1"), now=0.0) > 0
    assert throttle.wait(LoginThrottle.keys("bob", "10.9.9.9"), now=0.0) == 0


def test_success_clears_the_keys() -> None:
    throttle = LoginThrottle(free=0)
    throttle.failed(KEYS, now=0.0)
    throttle.succeeded(KEYS)
    assert throttle.wait(KEYS, now=0.0) == 0.0


def test_the_table_stays_bounded() -> None:
    throttle = LoginThrottle(capacity=100)
    for number in range(1000):
        throttle.failed(
            LoginThrottle.keys(f"user{number}", f"10.0.{number // 256}.{number % 256}"), now=0.0
        )
    assert len(throttle._keys) == 100


def test_csrf_tokens_differ_per_session() -> None:
    assert csrf_token("a") != csrf_token("b")
    assert csrf_token("a") == csrf_token("a")
