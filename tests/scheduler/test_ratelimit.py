"""The per-messenger token bucket, driven by a fake clock: no sleeps, no timing asserts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaung.settings import get_settings
from scheduler import ratelimit
from scheduler.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_full_bucket_gives_its_capacity_at_once_then_spaces_by_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, capacity=3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0, 0, 0]
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)


def test_tokens_refill_with_time_up_to_the_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, capacity=2, clock=clock)
    bucket.reserve()
    bucket.reserve()
    assert bucket.available() == pytest.approx(0)
    clock.now += 0.25
    assert bucket.available() == pytest.approx(1)
    clock.now += 100
    assert bucket.available() == pytest.approx(2)


def test_acquire_waits_exactly_long_enough_for_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=200, clock=clock)
    start = clock.now
    for _ in range(201):
        bucket.acquire(sleep=clock.sleep)
    assert clock.now - start == pytest.approx(1.0)


def test_hold_gives_no_token_for_the_given_time() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, clock=clock)
    bucket.hold(5)
    assert bucket.reserve() == pytest.approx(5.1)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0)


@given(
    rate=st.floats(min_value=0.5, max_value=500),
    capacity=st.floats(min_value=1, max_value=50),
    steps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=60),
)
def test_never_more_than_capacity_plus_rate_times_elapsed(
    rate: float, capacity: float, steps: list[float]
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=rate, capacity=capacity, clock=clock)
    start = clock.now
    for granted, step in enumerate(steps, start=1):
        clock.now += step
        bucket.acquire(sleep=clock.sleep)
        assert granted <= capacity + rate * (clock.now - start) + 1e-6


def test_bucket_for_follows_the_configured_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    ratelimit.reset()
    monkeypatch.setitem(get_settings().rate_limits, "telegram", 42.0)
    assert ratelimit.bucket_for("telegram").rate == 42.0
    assert ratelimit.bucket_for("telegram") is ratelimit.bucket_for("telegram")
    monkeypatch.setitem(get_settings().rate_limits, "telegram", 7.0)
    assert ratelimit.bucket_for("telegram").rate == 7.0
    assert ratelimit.bucket_for("carrier-pigeon").rate == ratelimit.DEFAULT_RATE
    ratelimit.reset()
