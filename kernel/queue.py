"""The database work queue: enqueue side effects, claim them with a lease, finish them.

Every process (``gaung serve`` or any number of ``gaung worker``) claims due rows
itself; the database is the only shared state. PostgreSQL claims with
``SELECT ... FOR UPDATE SKIP LOCKED`` so workers never wait on each other;
SQLite (one process) uses one conditional ``UPDATE ... RETURNING``, which its
single writer lock makes atomic.

Kinds listed in ``scheduler.concurrency`` run at most that many at once across the
cluster (a platform's rate limit is per app, not per worker): on PostgreSQL a claim of
such a kind counts its running items under a transaction-scoped advisory lock on the
kind; on SQLite the conditional UPDATE itself re-checks the count.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine, Row
from sqlmodel import Session, col

from gaung.db import is_postgres, utcnow
from gaung.settings import get_settings
from kernel.models import WorkItem, WorkStatus

log = logging.getLogger(__name__)

# First retry after about this long, doubling per attempt up to the cap.
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
_ERROR_MAX = 4000
# First key of the advisory locks that serialise claims of a limited kind (PostgreSQL).
_LOCK_CLASS = 0x6761756E  # "gaun"
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
    """Atomically take up to ``limit`` due items for ``worker`` (status running, leased).

    Kinds with a cluster-wide limit (``scheduler.concurrency``) are only claimed while fewer
    of them run under a live lease than the limit allows.
    """
    if kinds is not None and not kinds:
        return []
    now = utcnow()
    lease = now + timedelta(seconds=get_settings().scheduler.lease_seconds)
    caps = _caps(kinds)
    with engine.begin() as conn:
        if is_postgres(engine):
            target = _pg_targets(conn, now, kinds, caps, limit)
            if target is None:
                return []
        else:
            target = _sqlite_targets(now, kinds, caps, limit)
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


def _caps(kinds: Sequence[str] | None) -> dict[str, int]:
    """The limited kinds among ``kinds`` (all configured ones when None) and their limits."""
    configured = get_settings().scheduler.concurrency
    wanted = configured if kinds is None else {k: configured[k] for k in kinds if k in configured}
    return {kind: max(cap, 0) for kind, cap in sorted(wanted.items())}


def _running(now: datetime) -> ColumnElement[bool]:
    return and_(_table.c.status == WorkStatus.RUNNING, _table.c.lease_until >= now)


def _ordered(condition: ColumnElement[bool], limit: int) -> Select[tuple[int]]:
    return select(_table.c.id).where(condition).order_by(_table.c.run_at, _table.c.id).limit(limit)


def _pg_targets(
    conn: Connection,
    now: datetime,
    kinds: Sequence[str] | None,
    caps: dict[str, int],
    limit: int,
) -> ColumnElement[bool] | None:
    """Row-lock the items to claim (SKIP LOCKED) and return them as a WHERE clause.

    A limited kind is claimed only under a transaction-scoped advisory lock on that kind,
    taken before counting its running items: concurrent claimers of the same limited kind
    queue on the lock, and each one counts what the previous one committed. Locks are
    taken only for limited kinds that have due work, in a fixed order (no deadlock).
    """
    room: dict[str, int] = {}
    if caps:
        due_limited = conn.scalars(
            select(_table.c.kind).where(_due(now, list(caps))).distinct()
        ).all()
        for kind in sorted(due_limited):
            lock_class = cast(literal(_LOCK_CLASS), Integer)
            conn.execute(select(func.pg_advisory_xact_lock(lock_class, func.hashtext(kind))))
        running: dict[str, int] = dict(
            conn.execute(
                select(_table.c.kind, func.count())
                .where(_running(now), _table.c.kind.in_(due_limited))
                .group_by(_table.c.kind)
            ).all()
        )
        room = {kind: caps[kind] - running.get(kind, 0) for kind in due_limited}
    # Limited kinds not locked above (no due work a moment ago) are left for the next claim.
    blocked = [kind for kind in caps if room.get(kind, 0) <= 0]
    condition = _due(now, kinds)
    if blocked:
        condition = and_(condition, _table.c.kind.not_in(blocked))
    candidates = select(_table.c.id, _table.c.kind).where(condition)
    candidates = candidates.order_by(_table.c.run_at, _table.c.id).limit(limit)
    ids = []
    for item_id, kind in conn.execute(candidates.with_for_update(skip_locked=True)):
        if kind in room:
            if room[kind] <= 0:
                continue  # this kind's room is used up by earlier candidates
            room[kind] -= 1
        ids.append(item_id)
    return _table.c.id.in_(ids) if ids else None


def _sqlite_targets(
    now: datetime, kinds: Sequence[str] | None, caps: dict[str, int], limit: int
) -> ColumnElement[bool]:
    """One conditional UPDATE, made atomic by SQLite's single writer.

    Unlimited kinds are picked as before. Each limited kind offers at most one candidate
    per claim, and the UPDATE re-checks that fewer of that kind are running than its limit;
    with one new item per kind, the count read inside the statement cannot be overtaken.
    """
    unlimited = _due(now, kinds)
    if caps:
        unlimited = and_(unlimited, _table.c.kind.not_in(list(caps)))
    picks = [_ordered(unlimited, limit)]
    picks += [
        _ordered(and_(_due(now, [kind]), _running_count(now, literal(kind)) < cap), 1)
        for kind, cap in caps.items()
    ]
    # SQLite allows no ORDER BY/LIMIT inside a compound SELECT, hence one subquery each.
    pool = union_all(*(select(p.c.id) for p in (pick.subquery() for pick in picks))).subquery()
    chosen = (
        select(_table.c.id)
        .where(_table.c.id.in_(select(pool.c.id)))
        .order_by(_table.c.run_at, _table.c.id)
        .limit(limit)
    )
    condition = and_(_table.c.id.in_(chosen.scalar_subquery()), _due(now, kinds))
    if not caps:
        return condition
    cap = case(caps, value=_table.c.kind)
    under_cap = or_(_table.c.kind.not_in(list(caps)), _running_count(now, _table.c.kind) < cap)
    return and_(condition, under_cap)


def _running_count(now: datetime, kind: ColumnElement[str]) -> ScalarSelect[int]:
    """How many items of ``kind`` run under a live lease (a correlated subquery)."""
    other = _table.alias("other")
    return (
        select(func.count())
        .select_from(other)
        .where(
            other.c.kind == kind, other.c.status == WorkStatus.RUNNING, other.c.lease_until >= now
        )
        .scalar_subquery()
    )


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
    delay: timedelta = ceiling * random.uniform(0.5, 1.0)
    return delay


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
