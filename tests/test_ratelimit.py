"""Per-source token buckets that may run into debt."""

from __future__ import annotations

import pytest

from service.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_quiet_source_may_send_a_batch_bigger_than_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 100, clock=clock)
    assert limiter.take("api", 500) == 0
    wait = limiter.take("api", 1)
    assert wait == pytest.approx((1 + 400) / 10)


def test_tokens_come_back_with_time() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 100, clock=clock)
    assert limiter.take("api", 100) == 0
    assert limiter.take("api", 1) > 0
    clock.now += 0.5
    assert limiter.take("api", 1) == 0


def test_sources_have_buckets_of_their_own() -> None:
    limiter = RateLimiter(10, 100, clock=Clock())
    assert limiter.take("api", 1000) == 0
    assert limiter.take("api", 1) > 0
    assert limiter.take("web", 1) == 0


def test_a_refused_batch_spends_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 100, clock=clock)
    limiter.take("api", 110)
    first = limiter.take("api", 50)
    second = limiter.take("api", 50)
    assert first == pytest.approx(second) == pytest.approx(1.1)


def test_the_burst_never_falls_below_one_second_of_rate() -> None:
    limiter = RateLimiter(1000, 10, clock=Clock())
    assert limiter.burst == 1000


def test_a_rate_of_zero_switches_the_limit_off() -> None:
    limiter = RateLimiter(0, 0, clock=Clock())
    assert not limiter.enabled
    assert all(limiter.take("api", 10**9) == 0 for _ in range(3))
