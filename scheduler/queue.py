"""The database work queue: enqueue side effects, claim them with a lease, finish them.

Every process (``gaung serve`` or any number of ``gaung worker``) claims due rows
itself; the database is the only shared state. PostgreSQL claims with
``SELECT ... FOR UPDATE SKIP LOCKED`` so workers never wait on each other;
SQLite (one process) uses one conditional ``UPDATE ... RETURNING``, which its
single writer lock makes atomic.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine, Row
from sqlmodel import Session, col

from gaung.db import is_postgres, utcnow
from gaung.settings import get_settings
from scheduler.models import WorkItem, WorkStatus

log = logging.getLogger(__name__)

# First retry after about this long, doubling per attempt up to the cap.
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
_ERROR_MAX = 4000
_table = WorkItem.__table__  # type: ignore[attr-defined]


class RetryLater(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a job to run again at ``at`` without counting a failed attempt."""

    def __init__(self, at: datetime, reason: str = "") -> None:
        super().__init__(reason or f"retry at {at.isoformat()}")
        self.at = at


def enqueue(
    session: Session, *, kind: str, key: str, payload: dict[str, Any], run_at: datetime
) -> WorkItem:
    """Queue a side effect once per ``key`` and return its row (the existing one if any).

    Joins the caller's transaction (no commit), so the work appears only if the caller commits.
    """
    item = WorkItem(kind=kind, key=key, payload=json.dumps(payload), run_at=run_at)
    values = item.model_dump(exclude={"id"})
    # ON CONFLICT rather than a savepoint: pysqlite's SAVEPOINT would commit the caller's work,
    # and a concurrent enqueuer of the same key must not abort the caller's transaction.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(_table).values(**values).on_conflict_do_nothing(index_elements=["key"]))
    stored = session.scalars(select(WorkItem).where(col(WorkItem.key) == key)).one()
    return stored


def reschedule(session: Session, key: str, run_at: datetime) -> None:
    """Move a not-yet-running item to ``run_at`` (a finished one is queued again).

    A running item is left alone: its worker already acts on it. No commit.
    """
    session.execute(
        update(_table)
        .where(_table.c.key == key, _table.c.status != WorkStatus.RUNNING)
        .values(
            status=WorkStatus.QUEUED,
            run_at=run_at,
            attempts=0,
            lease_until=None,
            worker=None,
            last_error=None,
            finished_at=None,
        )
    )


def payload_of(item: WorkItem) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(item.payload or "{}")
    return data


def _due(now: datetime, kinds: Sequence[str] | None) -> ColumnElement[bool]:
    """Queued and due, or running under an expired lease (its worker died)."""
    condition = or_(
        and_(_table.c.status == WorkStatus.QUEUED, _table.c.run_at <= now),
        and_(_table.c.status == WorkStatus.RUNNING, _table.c.lease_until < now),
    )
    if kinds is not None:
        condition = and_(condition, _table.c.kind.in_(list(kinds)))
    return condition


def claim(
    engine: Engine, *, worker: str, kinds: Sequence[str] | None = None, limit: int = 1
) -> list[WorkItem]:
    """Atomically take up to ``limit`` due items for ``worker`` (status running, leased)."""
    if kinds is not None and not kinds:
        return []
    now = utcnow()
    lease = now + timedelta(seconds=get_settings().scheduler.lease_seconds)
    candidates = (
        select(_table.c.id)
        .where(_due(now, kinds))
        .order_by(_table.c.run_at, _table.c.id)
        .limit(limit)
    )
    with engine.begin() as conn:
        if is_postgres(engine):
            ids = list(conn.scalars(candidates.with_for_update(skip_locked=True)))
            if not ids:
                return []
            target = _table.c.id.in_(ids)
        else:
            # Re-checking the condition in the UPDATE makes the statement the arbiter.
            target = and_(_table.c.id.in_(candidates.scalar_subquery()), _due(now, kinds))
        rows = conn.execute(
            update(_table)
            .where(target)
            .values(
                status=WorkStatus.RUNNING,
                worker=worker,
                lease_until=lease,
                attempts=_table.c.attempts + 1,
            )
            .returning(*_table.c)
        ).all()
    return sorted((_item(row) for row in rows), key=lambda i: (i.run_at, i.id or 0))


def _item(row: Row[Any]) -> WorkItem:
    return WorkItem.model_validate(dict(row._mapping))


def _owned(item_id: int, worker: str) -> ColumnElement[bool]:
    """The item is still running under this worker's lease (not taken over)."""
    return and_(
        _table.c.id == item_id,
        _table.c.worker == worker,
        _table.c.status == WorkStatus.RUNNING,
    )


def complete(engine: Engine, item_id: int, worker: str) -> bool:
    """Mark done; False when ``worker`` no longer holds the lease (nothing changed)."""
    with engine.begin() as conn:
        result = conn.execute(
            update(_table)
            .where(_owned(item_id, worker))
            .values(status=WorkStatus.DONE, lease_until=None, finished_at=utcnow())
        )
    return _changed(result.rowcount, item_id, worker)


def backoff(attempts: int) -> timedelta:
    """Exponential delay after ``attempts`` tries, with jitter so retries do not stampede."""
    exponent = min(max(attempts - 1, 0), 20)
    ceiling = min(BACKOFF_BASE * (2**exponent), BACKOFF_CAP)
    return ceiling * random.uniform(0.5, 1.0)


def fail(
    engine: Engine,
    item_id: int,
    worker: str,
    error: str,
    *,
    retry_in: timedelta | None = None,
) -> bool:
    """Record a failed attempt: queue a retry with backoff, or FAILED after max attempts.

    False when ``worker`` no longer holds the lease (nothing changed).
    """
    max_attempts = get_settings().scheduler.max_attempts
    with engine.begin() as conn:
        attempts = conn.scalar(select(_table.c.attempts).where(_owned(item_id, worker)))
        if attempts is None:
            return _changed(0, item_id, worker)
        now = utcnow()
        values: dict[str, Any] = {"last_error": error[:_ERROR_MAX], "lease_until": None}
        if attempts >= max_attempts:
            values.update(status=WorkStatus.FAILED, finished_at=now)
        else:
            delay = retry_in if retry_in is not None else backoff(attempts)
            values.update(status=WorkStatus.QUEUED, run_at=now + delay, worker=None)
        return _changed(_guarded_update(conn, item_id, worker, attempts, values), item_id, worker)


def release(engine: Engine, item_id: int, worker: str, *, run_at: datetime) -> bool:
    """Put a claimed item back for ``run_at`` without counting the attempt (RetryLater)."""
    with engine.begin() as conn:
        attempts = conn.scalar(select(_table.c.attempts).where(_owned(item_id, worker)))
        if attempts is None:
            return _changed(0, item_id, worker)
        values = {
            "status": WorkStatus.QUEUED,
            "run_at": run_at,
            "worker": None,
            "lease_until": None,
            "attempts": max(attempts - 1, 0),
        }
        return _changed(_guarded_update(conn, item_id, worker, attempts, values), item_id, worker)


def _guarded_update(
    conn: Connection, item_id: int, worker: str, attempts: int, values: dict[str, Any]
) -> int:
    """Update only if nobody re-claimed the item since we read ``attempts``."""
    result = conn.execute(
        update(_table)
        .where(_owned(item_id, worker), _table.c.attempts == attempts)
        .values(**values)
    )
    return result.rowcount


def _changed(rowcount: int, item_id: int, worker: str) -> bool:
    if rowcount != 1:
        log.warning("work item %s: lease no longer held by %s; result dropped", item_id, worker)
        return False
    return True
