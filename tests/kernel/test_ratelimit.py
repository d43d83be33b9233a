"""Cluster-wide send rates: slots reserved from a shared database window, paced locally.

The pacing is driven by a fake clock (no sleeps, no timing asserts); the reservations
run on SQLite and PostgreSQL, from several threads with their own connections.
"""

from __future__ import annotations

import itertools
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from gaung.settings import get_settings
from kernel import ratelimit
from kernel.ratelimit import Slots


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


# --- local pacing within a reserved batch ----------------------------------------------------


def test_slots_start_after_the_first_wait_and_are_spaced_by_the_interval() -> None:
    clock = FakeClock()
    slots = Slots(first_wait=0.5, interval=0.1, count=3, clock=clock)
    assert [slots.reserve() for _ in range(3)] == pytest.approx([0.5, 0.6, 0.7])


def test_acquire_sleeps_until_each_slot() -> None:
    clock = FakeClock()
    slots = Slots(first_wait=0, interval=1 / 30, count=31, clock=clock)
    for _ in range(31):
        slots.acquire(sleep=clock.sleep)
    assert clock.now - 1000.0 == pytest.approx(1.0)


def test_a_late_sender_does_not_catch_up_in_a_burst() -> None:
    clock = FakeClock()
    slots = Slots(first_wait=0, interval=0.1, count=5, clock=clock)
    clock.now += 10  # e.g. the database was slow: every slot is in the past
    assert [slots.reserve() for _ in range(3)] == pytest.approx([0, 0.1, 0.2])


def test_hold_gives_no_slot_for_the_given_time() -> None:
    clock = FakeClock()
    slots = Slots(first_wait=0, interval=0.1, count=5, clock=clock)
    slots.reserve()
    slots.hold(5)
    assert slots.reserve() == pytest.approx(5)
    assert slots.reserve() == pytest.approx(5.1)


@given(
    interval=st.floats(min_value=0.001, max_value=2),
    waits=st.lists(st.floats(min_value=0, max_value=3), min_size=1, max_size=50),
)
def test_paced_sends_are_never_closer_than_the_interval(
    interval: float, waits: list[float]
) -> None:
    clock = FakeClock()
    slots = Slots(first_wait=0, interval=interval, count=len(waits), clock=clock)
    sent: list[float] = []
    for pause in waits:
        clock.now += pause
        slots.acquire(sleep=clock.sleep)
        sent.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert all(gap >= interval - 1e-9 for gap in gaps)


# --- the shared window in the database -------------------------------------------------------


@pytest.fixture
def slow_rate(monkeypatch: pytest.MonkeyPatch) -> float:
    """One message per 100 s: reservations made during a test always find the window busy."""
    monkeypatch.setitem(get_settings().rate_limits, "telegram", 0.01)
    return 0.01


def test_reservations_follow_each_other_without_overlap(db: Engine, slow_rate: float) -> None:
    first = ratelimit.reserve(db, "telegram", 10)
    second = ratelimit.reserve(db, "telegram", 5)

    assert first.end - first.start == pytest.approx(10 / slow_rate)
    assert second.start == pytest.approx(first.end)
    assert second.end - second.start == pytest.approx(5 / slow_rate)
    assert ratelimit.backlog(db, "telegram") == pytest.approx(15 / slow_rate, rel=0.01)


def test_an_idle_window_gives_the_first_slot_at_once(db: Engine) -> None:
    assert ratelimit.backlog(db, "email") == 0
    slots = ratelimit.reserve(db, "email", 1)
    # The reservation starts now on the database clock: no wait beyond a clock tick.
    assert slots.reserve() < slots.interval


def test_workers_together_never_exceed_the_rate(db: Engine, slow_rate: float) -> None:
    """Eight workers, each on its own connection, reserve batches at the same time."""
    barrier = threading.Barrier(8)
    batches: list[Slots] = []
    lock = threading.Lock()

    def worker(count: int) -> None:
        barrier.wait()
        for _ in range(5):
            slots = ratelimit.reserve(db, "telegram", count)
            with lock:
                batches.append(slots)

    threads = [threading.Thread(target=worker, args=(n + 1,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    ordered = sorted(batches, key=lambda s: s.start)
    for before, after in itertools.pairwise(ordered):
        assert after.start == pytest.approx(before.end)  # back to back, never overlapping
    total = sum(s.count for s in batches)
    assert ordered[-1].end - ordered[0].start == pytest.approx(total / slow_rate)


def test_a_providers_retry_after_holds_every_worker(db: Engine, slow_rate: float) -> None:
    ratelimit.reserve(db, "telegram", 1)
    before = ratelimit.backlog(db, "telegram")
    ratelimit.hold(db, "telegram", 10_000)

    after = ratelimit.reserve(db, "telegram", 1)

    assert before < 10_000 <= ratelimit.backlog(db, "telegram")
    assert after.reserve() > 9_000  # the next worker's slot waits out the hold


def test_the_rate_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(get_settings().rate_limits, "telegram", 42.0)
    assert ratelimit.rate_for("telegram") == 42.0
    assert ratelimit.rate_for("carrier-pigeon") == ratelimit.DEFAULT_RATE
    monkeypatch.setitem(get_settings().rate_limits, "telegram", 0.0)
    with pytest.raises(ValueError, match=r"rate_limits\.telegram"):
        ratelimit.rate_for("telegram")
