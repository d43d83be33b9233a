"""Recurring jobs fire once per period across the cluster, however many processes tick."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from gaung.db import make_engine
from kernel import recurring
from kernel.jobs import JOBS, run_due
from kernel.models import WorkItem, WorkStatus
from kernel.recurring import Recurring, enqueue_due

KIND = "test.tick"
EVERY = timedelta(minutes=10)
NOW = datetime(2026, 11, 23, 10, 7, 30, tzinfo=UTC)


class PerThread(dict[str, datetime]):
    """``_enqueued`` as each "process" (here: thread) sees it: its own memory."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def _mine(self) -> dict[str, datetime]:
        if not hasattr(self.local, "seen"):
            self.local.seen = {}
        seen: dict[str, datetime] = self.local.seen
        return seen

    def get(self, key: str, default: Any = None) -> Any:
        return self._mine().get(key, default)

    def __setitem__(self, key: str, value: datetime) -> None:
        self._mine()[key] = value


@pytest.fixture
def ticks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """A test-only recurring job that records its payloads; forgotten afterwards."""
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(recurring, "_enqueued", {})
    # Only this job recurs here: other modules' recurring jobs must not run in these tests.
    monkeypatch.setattr(recurring, "RECURRING", {})

    def tick(engine: Engine, payload: dict[str, Any]) -> None:
        seen.append(payload)

    recurring.register(KIND, tick, EVERY)

    yield seen
    JOBS.pop(KIND, None)


def _items(session: Session) -> list[WorkItem]:
    session.expire_all()
    return list(session.exec(select(WorkItem).where(WorkItem.kind == KIND)))


def test_two_processes_ticking_the_same_period_queue_one_item(
    db: Engine, db_url: str, session: Session, ticks: list[dict[str, Any]]
) -> None:
    other = make_engine(db_url)  # the second process has an engine of its own...
    try:
        assert enqueue_due(db, NOW) >= 1
        recurring._enqueued.clear()  # ...and no memory of what the first one queued
        assert enqueue_due(other, NOW + timedelta(minutes=1)) >= 1
    finally:
        other.dispose()

    (item,) = _items(session)
    assert item.key == "test.tick@2026-11-23T10:00:00+00:00"
    assert item.run_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_many_processes_ticking_at_once_still_queue_one_item(
    db: Engine,
    db_url: str,
    session: Session,
    ticks: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recurring, "_enqueued", PerThread())
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def process() -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            enqueue_due(engine, NOW)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=process) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert len(_items(session)) == 1


def test_a_process_queries_again_only_when_a_new_period_begins(
    db: Engine, session: Session, ticks: list[dict[str, Any]]
) -> None:
    assert enqueue_due(db, NOW) >= 1
    assert enqueue_due(db, NOW + timedelta(minutes=2)) == 0  # same period: no query at all
    assert enqueue_due(db, NOW + EVERY) >= 1

    assert [i.key for i in _items(session)] == [
        "test.tick@2026-11-23T10:00:00+00:00",
        "test.tick@2026-11-23T10:10:00+00:00",
    ]


def test_the_period_item_runs_once_with_its_period(
    db: Engine, session: Session, ticks: list[dict[str, Any]]
) -> None:
    enqueue_due(db, NOW)
    recurring._enqueued.clear()
    enqueue_due(db, NOW)

    while run_due(db, "w", limit=10) == 10:
        pass

    assert ticks == [{"period": "2026-11-23T10:00:00+00:00"}]
    assert [i.status for i in _items(session)] == [WorkStatus.DONE]


def test_an_offset_shifts_the_period_boundaries() -> None:
    daily = Recurring("digest", timedelta(days=1), offset=timedelta(hours=1))
    assert daily.period_start(NOW) == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    early = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    assert daily.period_start(early) == datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def test_a_recurring_job_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="positive"):
        recurring.register("test.never", lambda engine, payload: None, timedelta(0))
