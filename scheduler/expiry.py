"""Expiry: an assignment still pending when its deadline passed becomes EXPIRED.

Only PENDING ones: a reported repost stays reported (the ASN did act, it is just not verified),
and a declined one stays declined. One ``expire`` item per post runs shortly after the
campaign deadline, queued at dispatch; it waits while the post's last verification rounds are
still queued, since a search round may yet find a repost of a pending assignment. A daily
sweep catches posts dispatched before this job existed or whose item was lost.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment, AssignmentStatus
from content.models import Campaign, Post
from gaung.db import utcnow
from kernel import queue
from kernel.models import WorkItem, WorkStatus

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=5)  # after the deadline, so the final verification round goes first
WAIT = timedelta(minutes=10)  # re-check interval while verification rounds are still queued
SWEEP_AFTER = timedelta(days=1)  # the daily sweep leaves the per-post items a day's head start
_table = Assignment.__table__  # type: ignore[attr-defined]


def expiry_key(post_id: int, run_at: datetime) -> str:
    return f"expire:post:{post_id}:{run_at.isoformat(timespec='seconds')}"


def schedule_expiry(session: Session, post_id: int, deadline: datetime) -> WorkItem:
    """Queue the post's expiry check for just after ``deadline`` (caller's transaction)."""
    run_at = deadline + GRACE
    return queue.enqueue(
        session,
        kind="expire",
        key=expiry_key(post_id, run_at),
        payload={"post_id": post_id},
        run_at=run_at,
    )


def on_dispatch(conn: Connection, post_id: int) -> None:
    with Session(bind=conn) as session:
        post = session.get(Post, post_id)
        campaign = session.get(Campaign, post.campaign_id) if post else None
        if campaign is not None:
            schedule_expiry(session, post_id, campaign.deadline)


def expire_job(engine: Engine, payload: dict[str, Any]) -> None:
    expire_post(engine, int(payload["post_id"]))


def _verification_pending(session: Session, post_id: int) -> bool:
    """A verify_post round of the post is still queued or running."""
    query = select(func.count()).where(
        col(WorkItem.kind) == "verify_post",
        col(WorkItem.key).startswith(f"verify:post:{post_id}:"),
        col(WorkItem.status).in_([WorkStatus.QUEUED, WorkStatus.RUNNING]),
    )
    return bool(session.exec(query).one())


def expire_post(engine: Engine, post_id: int) -> int:
    """Expire the post's pending assignments past their deadline; returns how many."""
    now = utcnow()
    with Session(engine) as session, session.begin():
        if _verification_pending(session, post_id):
            raise queue.RetryLater(now + WAIT, "verification rounds still queued")
        expired = _expire(session, now, _table.c.post_id == post_id)
        later = session.exec(
            select(func.min(col(Assignment.deadline))).where(
                Assignment.post_id == post_id, Assignment.status == AssignmentStatus.PENDING
            )
        ).one()
        if later is not None:  # some deadline was moved: come back for those
            schedule_expiry(session, post_id, later)
    if expired:
        log.info("post %s: %s pending assignments expired", post_id, expired)
    return expired


def _expire(session: Session, deadline_before: datetime, *where: Any) -> int:
    statement = (
        update(_table)
        .where(
            _table.c.status == AssignmentStatus.PENDING,
            _table.c.deadline <= deadline_before,
            *where,
        )
        .values(status=AssignmentStatus.EXPIRED)
    )
    return int(session.connection().execute(statement).rowcount or 0)


# The daily sweep catches posts whose expire item was lost: 20:00 UTC (03:00 WIB).
SWEEP_EVERY = timedelta(days=1)
SWEEP_AT = timedelta(hours=20)


def expire_sweep_job(engine: Engine, payload: dict[str, Any]) -> None:
    sweep(engine)


def sweep(engine: Engine, now: datetime | None = None) -> int:
    """Expire every pending assignment whose deadline passed more than a day ago."""
    with Session(engine) as session, session.begin():
        expired = _expire(session, (now or utcnow()) - SWEEP_AFTER)
    if expired:
        log.info("expiry sweep: %s pending assignments expired", expired)
    return expired
