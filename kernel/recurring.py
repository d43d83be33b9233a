"""Recurring jobs that fire once per period across the whole cluster.

Every process's clock calls :func:`enqueue_due` on each tick. The work item of a period is
keyed ``<kind>@<period start>``, and ``work_item.key`` is unique, so however many
processes tick, the database holds one item per period and one worker runs it. Each
process remembers the last period it enqueued, so a tick costs no query until the next
period begins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from gaung.db import utcnow
from kernel import jobs, queue
from kernel.jobs import JobHandler

log = logging.getLogger(__name__)

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Recurring:
    kind: str
    every: timedelta
    # Shifts the period boundaries, e.g. a daily job at 01:00 UTC (08:00 WIB).
    offset: timedelta = timedelta(0)

    def period_start(self, now: datetime) -> datetime:
        periods = (now - _EPOCH - self.offset) // self.every
        return _EPOCH + self.offset + periods * self.every

    def key(self, start: datetime) -> str:
        return f"{self.kind}@{start.isoformat(timespec='seconds')}"


RECURRING: dict[str, Recurring] = {}
_enqueued: dict[str, datetime] = {}


def register(
    kind: str, handler: JobHandler, every: timedelta, offset: timedelta = timedelta(0)
) -> None:
    """Run ``handler`` once per ``every`` across the cluster (payload: ``{"period": iso}``)."""
    if every <= timedelta(0):
        raise ValueError("a recurring job needs a positive interval")
    jobs.register(kind, handler)
    RECURRING[kind] = Recurring(kind, every, offset)


def enqueue_due(engine: Engine, now: datetime | None = None) -> int:
    """Queue the current period's item of every recurring job not yet queued by this process."""
    now = now or utcnow()
    due = [
        (spec, spec.period_start(now))
        for spec in RECURRING.values()
        if _enqueued.get(spec.kind) != spec.period_start(now)
    ]
    if not due:
        return 0
    with Session(engine) as session:
        for spec, start in due:
            queue.enqueue(
                session,
                kind=spec.kind,
                key=spec.key(start),
                payload={"period": start.isoformat()},
                run_at=start,
            )
        session.commit()
    for spec, start in due:
        _enqueued[spec.kind] = start
    return len(due)
