"""run_due: claims due items, runs their handlers, and records each outcome."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from assignments.models import Assignment
from content.models import PostStatus
from content.schedule import schedule_dispatch
from gaung.db import utcnow
from kernel import queue
from kernel.jobs import JOBS, register, run_due
from kernel.models import WorkItem, WorkStatus
from roster.models import Role
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user


@pytest.fixture
def calls() -> Iterator[list[dict[str, Any]]]:
    """Test-only job kinds: 'ok' records its payload, 'boom' fails, 'later' defers."""
    seen: list[dict[str, Any]] = []
    later_at = utcnow() + timedelta(hours=2)

    def ok(engine: Engine, payload: dict[str, Any]) -> None:
        seen.append(payload)

    def boom(engine: Engine, payload: dict[str, Any]) -> None:
        raise ValueError("handler exploded")

    def later(engine: Engine, payload: dict[str, Any]) -> None:
        raise queue.RetryLater(later_at, "rate limited")

    register("test.ok", ok)
    register("test.boom", boom)
    register("test.later", later)

    seen.append({"later_at": later_at})
    yield seen
    for kind in ("test.ok", "test.boom", "test.later"):
        JOBS.pop(kind, None)


def _add(session: Session, kind: str, key: str) -> WorkItem:
    item = queue.enqueue(session, kind=kind, key=key, payload={"k": key}, run_at=utcnow())
    session.commit()
    return item


def _row(session: Session, item: WorkItem) -> WorkItem:
    session.expire_all()
    return session.get_one(WorkItem, item.id)


def test_run_due_runs_each_item_and_records_outcomes(
    db: Engine, session: Session, calls: list[dict[str, Any]]
) -> None:
    ok = _add(session, "test.ok", "a")
    boom = _add(session, "test.boom", "b")
    later = _add(session, "test.later", "c")
    unknown = _add(session, "nobody.handles.this", "d")

    assert run_due(db, "w1") == 3

    assert calls[1:] == [{"k": "a"}]
    assert _row(session, ok).status == WorkStatus.DONE
    failed = _row(session, boom)
    assert (failed.status, failed.attempts) == (WorkStatus.QUEUED, 1)
    assert failed.last_error == "ValueError: handler exploded"
    deferred = _row(session, later)
    assert (deferred.status, deferred.attempts) == (WorkStatus.QUEUED, 0)
    assert abs(deferred.run_at - calls[0]["later_at"]) < timedelta(milliseconds=1)
    # A kind this process has no handler for is left for a process that has one.
    assert _row(session, unknown).status == WorkStatus.QUEUED
    assert run_due(db, "w1") == 0


def test_run_due_stops_at_the_limit(
    db: Engine, session: Session, calls: list[dict[str, Any]]
) -> None:
    for n in range(5):
        _add(session, "test.ok", f"k{n}")
    assert run_due(db, "w1", limit=2) == 2
    assert run_due(db, "w1", limit=10) == 3
    assert len(calls) == 1 + 5


def test_job_kind_cannot_be_registered_twice(calls: list[dict[str, Any]]) -> None:
    def again(engine: Engine, payload: dict[str, Any]) -> None:
        """Never registered."""

    with pytest.raises(ValueError, match="already registered"):
        register("test.ok", again)


def test_a_due_dispatch_item_is_dispatched_end_to_end(db: Engine, session: Session) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    make_asn(session, make_unit(session, agency))
    post = make_post(
        session, make_campaign(session, agency, editor), editor, status=PostStatus.APPROVED
    )
    item = schedule_dispatch(session, post)
    session.commit()

    # The post's dispatch item, then the dispatch_part item it queued for its one agency.
    assert run_due(db, "w1") == 2

    assert _row(session, item).status == WorkStatus.DONE
    session.refresh(post)
    assert post.status == PostStatus.DISPATCHED
    platforms = session.scalars(
        select(col(Assignment.platform)).where(col(Assignment.post_id) == post.id)
    ).all()
    assert sorted(platforms) == ["facebook", "instagram", "x"]


def test_a_withdrawn_post_completes_its_dispatch_item_without_retrying(
    db: Engine, session: Session
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    post = make_post(
        session, make_campaign(session, agency, editor), editor, status=PostStatus.REJECTED
    )
    item = schedule_dispatch(session, post)
    session.commit()
    assert run_due(db, "w1") == 1
    assert _row(session, item).status == WorkStatus.DONE
