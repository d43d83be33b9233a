"""The work queue on both backends: idempotent enqueue, exclusive claims, leases, retries."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from gaung.db import utcnow
from gaung.settings import get_settings
from kernel import queue
from kernel.models import WorkItem, WorkStatus


def _enqueue(session: Session, key: str, *, kind: str = "test", delay: float = -1) -> WorkItem:
    item = queue.enqueue(
        session,
        kind=kind,
        key=key,
        payload={"key": key},
        run_at=utcnow() + timedelta(seconds=delay),
    )
    session.commit()
    return item


def _row(db: Engine, item_id: int | None) -> WorkItem:
    with Session(db) as s:
        return s.get_one(WorkItem, item_id)


def test_enqueue_same_key_twice_keeps_one_row(session: Session) -> None:
    first = _enqueue(session, "post:1")
    second = queue.enqueue(
        session, kind="test", key="post:1", payload={"other": True}, run_at=utcnow()
    )
    session.commit()
    assert second.id == first.id
    assert queue.payload_of(second) == {"key": "post:1"}
    assert len(session.exec(select(WorkItem)).all()) == 1


def test_enqueue_joins_the_callers_transaction(session: Session) -> None:
    queue.enqueue(session, kind="test", key="rolled-back", payload={}, run_at=utcnow())
    session.rollback()
    assert session.exec(select(WorkItem)).all() == []


def test_claim_takes_only_due_items_of_the_requested_kinds(db: Engine, session: Session) -> None:
    due = _enqueue(session, "due")
    _enqueue(session, "future", delay=3600)
    _enqueue(session, "other-kind", kind="else")
    claimed = queue.claim(db, worker="w1", kinds=["test"], limit=10)
    assert [i.id for i in claimed] == [due.id]
    item = claimed[0]
    assert (item.status, item.worker, item.attempts) == (WorkStatus.RUNNING, "w1", 1)
    assert item.lease_until is not None
    assert item.lease_until > utcnow()
    assert queue.claim(db, worker="w2", kinds=["test"], limit=10) == []


def test_claim_with_no_kinds_claims_nothing(db: Engine, session: Session) -> None:
    _enqueue(session, "due")
    assert queue.claim(db, worker="w1", kinds=[]) == []


def test_concurrent_claims_never_return_the_same_item(db: Engine, session: Session) -> None:
    expected = {_enqueue(session, f"item:{n}").id for n in range(40)}
    barrier = threading.Barrier(2)
    results: dict[str, list[int | None]] = {"a": [], "b": []}

    def drain(name: str) -> None:
        barrier.wait()
        while batch := queue.claim(db, worker=name, limit=3):
            results[name].extend(i.id for i in batch)

    threads = [threading.Thread(target=drain, args=(name,)) for name in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    together = results["a"] + results["b"]
    assert len(together) == len(set(together))
    assert set(together) == expected


def test_expired_lease_is_reclaimed_and_the_old_worker_cannot_finish(
    db: Engine, session: Session
) -> None:
    item = _enqueue(session, "slow")
    assert [i.id for i in queue.claim(db, worker="dead")] == [item.id]
    with db.begin() as conn:  # the dead worker's lease runs out
        conn.execute(
            update(WorkItem.__table__)  # type: ignore[attr-defined]
            .where(WorkItem.__table__.c.id == item.id)  # type: ignore[attr-defined]
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    taken = queue.claim(db, worker="alive")
    assert [(i.id, i.worker, i.attempts) for i in taken] == [(item.id, "alive", 2)]

    assert queue.complete(db, item.id or 0, "dead") is False
    assert queue.fail(db, item.id or 0, "dead", "boom") is False
    row = _row(db, item.id)
    assert (row.status, row.worker, row.last_error) == (WorkStatus.RUNNING, "alive", None)

    assert queue.complete(db, item.id or 0, "alive") is True
    row = _row(db, item.id)
    assert row.status == WorkStatus.DONE
    assert row.finished_at is not None


def test_live_lease_is_not_reclaimed(db: Engine, session: Session) -> None:
    _enqueue(session, "busy")
    assert len(queue.claim(db, worker="w1")) == 1
    assert queue.claim(db, worker="w2") == []


def test_failure_backs_off_then_fails_for_good_after_max_attempts(
    db: Engine, session: Session
) -> None:
    item = _enqueue(session, "flaky")
    assert item.id is not None
    max_attempts = get_settings().scheduler.max_attempts

    claimed = queue.claim(db, worker="w")
    before = utcnow()
    assert queue.fail(db, item.id, "w", "first error") is True
    row = _row(db, item.id)
    assert (row.status, row.attempts, row.last_error) == (WorkStatus.QUEUED, 1, "first error")
    assert before + queue.BACKOFF_BASE * 0.5 <= row.run_at <= utcnow() + queue.BACKOFF_BASE
    assert queue.claim(db, worker="w") == []  # not due yet: backing off

    for attempt in range(2, max_attempts + 1):
        with db.begin() as conn:
            conn.execute(
                update(WorkItem.__table__)  # type: ignore[attr-defined]
                .where(WorkItem.__table__.c.id == item.id)  # type: ignore[attr-defined]
                .values(run_at=utcnow() - timedelta(seconds=1))
            )
        claimed = queue.claim(db, worker="w")
        assert [i.attempts for i in claimed] == [attempt]
        queue.fail(db, item.id, "w", f"error {attempt}")

    row = _row(db, item.id)
    assert (row.status, row.attempts) == (WorkStatus.FAILED, max_attempts)
    assert row.last_error == f"error {max_attempts}"
    assert row.finished_at is not None
    with db.begin() as conn:
        conn.execute(
            update(WorkItem.__table__)  # type: ignore[attr-defined]
            .where(WorkItem.__table__.c.id == item.id)  # type: ignore[attr-defined]
            .values(run_at=utcnow() - timedelta(days=1))
        )
    assert queue.claim(db, worker="w") == []


def test_explicit_retry_delay_is_used(db: Engine, session: Session) -> None:
    item = _enqueue(session, "rate-limited")
    queue.claim(db, worker="w")
    before = utcnow()
    queue.fail(db, item.id or 0, "w", "429", retry_in=timedelta(minutes=15))
    row = _row(db, item.id)
    assert before + timedelta(minutes=15) <= row.run_at <= utcnow() + timedelta(minutes=15)


def test_release_requeues_without_counting_an_attempt(db: Engine, session: Session) -> None:
    item = _enqueue(session, "later")
    queue.claim(db, worker="w")
    at = utcnow() + timedelta(hours=1)
    assert queue.release(db, item.id or 0, "w", run_at=at) is True
    row = _row(db, item.id)
    assert (row.status, row.attempts, row.worker) == (WorkStatus.QUEUED, 0, None)
    assert abs(row.run_at - at) < timedelta(milliseconds=1)


def test_reschedule_moves_a_queued_item_but_not_a_running_one(db: Engine, session: Session) -> None:
    queued = _enqueue(session, "queued", delay=3600)
    running = _enqueue(session, "running")
    queue.claim(db, worker="w", limit=1)
    later = utcnow() + timedelta(days=1)
    queue.reschedule(session, "queued", utcnow() - timedelta(seconds=1))
    queue.reschedule(session, "running", later)
    session.commit()
    assert [i.id for i in queue.claim(db, worker="w2")] == [queued.id]
    row = _row(db, running.id)
    assert (row.status, row.worker) == (WorkStatus.RUNNING, "w")


@given(st.integers(min_value=1, max_value=1000))
def test_backoff_grows_exponentially_with_jitter_up_to_the_cap(attempts: int) -> None:
    ceiling = min(queue.BACKOFF_BASE * 2 ** min(attempts - 1, 20), queue.BACKOFF_CAP)
    delay = queue.backoff(attempts)
    assert ceiling * 0.5 <= delay <= ceiling


# --- cluster-wide concurrency limits per kind ------------------------------------------------


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    caps = {"verify_post": 1, "verify_link": 2}
    monkeypatch.setattr(get_settings().scheduler, "concurrency", caps)
    return caps


def _running(db: Engine, kind: str) -> int:
    with Session(db) as s:
        rows = s.exec(
            select(WorkItem).where(WorkItem.kind == kind, WorkItem.status == WorkStatus.RUNNING)
        ).all()
        return len([r for r in rows if r.lease_until and r.lease_until >= utcnow()])


def test_a_kind_at_its_limit_is_not_claimed_until_one_finishes(
    db: Engine, session: Session, limits: dict[str, int]
) -> None:
    first = _enqueue(session, "verify:1", kind="verify_post", delay=-20)
    second = _enqueue(session, "verify:2", kind="verify_post", delay=-10)

    assert [i.id for i in queue.claim(db, worker="w1", limit=5)] == [first.id]
    assert queue.claim(db, worker="w2", limit=5) == []

    assert queue.complete(db, first.id or 0, "w1") is True
    assert [i.id for i in queue.claim(db, worker="w2", limit=5)] == [second.id]


def test_a_blocked_kind_does_not_hold_up_other_kinds(
    db: Engine, session: Session, limits: dict[str, int]
) -> None:
    _enqueue(session, "verify:1", kind="verify_post", delay=-30)
    blocked = _enqueue(session, "verify:2", kind="verify_post", delay=-20)
    dispatch = _enqueue(session, "dispatch:1", kind="dispatch", delay=-10)
    assert len(queue.claim(db, worker="w1")) == 1

    # The older verify_post item is due first, but its kind is at its limit.
    assert [i.id for i in queue.claim(db, worker="w2")] == [dispatch.id]
    assert _row(db, blocked.id).status == WorkStatus.QUEUED


def test_a_lease_that_ran_out_does_not_count_against_the_limit(
    db: Engine, session: Session, limits: dict[str, int]
) -> None:
    item = _enqueue(session, "verify:1", kind="verify_post")
    queue.claim(db, worker="dead")
    assert queue.claim(db, worker="alive") == []
    with db.begin() as conn:  # the worker died: its lease runs out
        conn.execute(
            update(WorkItem.__table__)  # type: ignore[attr-defined]
            .where(WorkItem.__table__.c.id == item.id)  # type: ignore[attr-defined]
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    assert [(i.id, i.worker) for i in queue.claim(db, worker="alive")] == [(item.id, "alive")]


def test_a_batch_claim_never_exceeds_a_kinds_limit(
    db: Engine, session: Session, limits: dict[str, int]
) -> None:
    for n in range(6):
        _enqueue(session, f"link:{n}", kind="verify_link")
    _enqueue(session, "dispatch:1", kind="dispatch")

    claimed = queue.claim(db, worker="w1", limit=10)
    claimed += queue.claim(db, worker="w2", limit=10)
    claimed += queue.claim(db, worker="w3", limit=10)

    assert sorted(i.kind for i in claimed).count("verify_link") == limits["verify_link"]
    assert [i.kind for i in claimed].count("dispatch") == 1
    assert _running(db, "verify_link") == limits["verify_link"]


def test_a_limit_of_zero_pauses_a_kind(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().scheduler, "concurrency", {"measure": 0})
    _enqueue(session, "measure:1", kind="measure")
    assert queue.claim(db, worker="w", kinds=["measure"]) == []


def test_concurrent_claimers_never_run_more_of_a_kind_than_its_limit(
    db: Engine, session: Session, limits: dict[str, int]
) -> None:
    """Six claimers, each on its own connection, drain 30 limited items and 30 others."""
    limited = {_enqueue(session, f"link:{n}", kind="verify_link").id for n in range(30)}
    others = {_enqueue(session, f"dispatch:{n}", kind="dispatch").id for n in range(30)}
    cap = limits["verify_link"]
    barrier = threading.Barrier(6)
    seen: list[int | None] = []
    over: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        try:
            barrier.wait()
            while batch := queue.claim(db, worker=name, limit=2):
                # While this worker holds its items, the cluster never runs more than cap.
                running = _running(db, "verify_link")
                with lock:
                    seen.extend(i.id for i in batch)
                    if running > cap:
                        over.append(running)
                for item in batch:
                    assert queue.complete(db, item.id or 0, name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert over == []
    assert len(seen) == len(set(seen))
    assert set(seen) == limited | others
