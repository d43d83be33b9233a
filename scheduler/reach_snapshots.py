"""Reach snapshots: the figures of big campaigns, recomputed in the background.

Aggregating a campaign of a million assignments and millions of clicks takes seconds; the
dashboard must not. ``reach_snapshot`` computes ``assignments.reach.campaign_reach`` and stores
it; ``dashboard_reach`` serves it for campaigns of ``LIVE_LIMIT`` assignments or more (and
says "as of"). A snapshot is queued after a dispatch that made a campaign big, every
``EVERY`` for big campaigns that are still active, and by a page view that finds none for a
big campaign or one older than ``EVERY``. Keys carry the period, so however many workers and
page views ask, a campaign is computed once per period.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, func, select

from assignments.models import Assignment
from assignments.reach import campaign_reach
from assignments.reach_snapshot import (
    LIVE_LIMIT,
    REPOSTERS_SHOWN,
    ReachSnapshot,
    store_snapshot,
)
from content.models import Campaign, Post
from gaung.db import utcnow
from kernel import queue
from kernel.models import WorkItem

log = logging.getLogger(__name__)

EVERY = timedelta(minutes=5)
# Clicks and 72 h metrics keep coming after the deadline; a week later the figures are final.
ACTIVE_AFTER_DEADLINE = timedelta(days=7)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _period(now: datetime) -> datetime:
    return _EPOCH + ((now - _EPOCH) // EVERY) * EVERY


def schedule(session: Session, campaign_id: int, now: datetime | None = None) -> WorkItem:
    """Queue the campaign's snapshot for this period (a no-op if already queued or done)."""
    moment = now or utcnow()
    return queue.enqueue(
        session,
        kind="reach_snapshot",
        key=f"reach:{campaign_id}:{_period(moment).isoformat(timespec='minutes')}",
        payload={"campaign_id": campaign_id},
        run_at=moment,
    )


def stale(snapshot_time: datetime | None, now: datetime | None = None) -> bool:
    return snapshot_time is None or snapshot_time < (now or utcnow()) - EVERY


def on_dispatch(conn: Connection, post_id: int) -> None:
    """A dispatch that made a campaign big: snapshot it before anyone opens the dashboard.

    (A campaign that grows big over several smaller posts gets its first snapshot queued by
    the first page view that had to compute it live.)
    """
    with Session(bind=conn) as session:
        post = session.get(Post, post_id)
        created = session.exec(
            select(func.count()).select_from(Assignment).where(Assignment.post_id == post_id)
        ).one()
        if post is not None and created >= LIVE_LIMIT:
            schedule(session, post.campaign_id)


def reach_snapshot_job(engine: Engine, payload: dict[str, Any]) -> None:
    take_snapshot(engine, int(payload["campaign_id"]))


def take_snapshot(engine: Engine, campaign_id: int) -> ReachSnapshot | None:
    """Compute the campaign's figures now and store them; None if the campaign is gone."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if session.get(Campaign, campaign_id) is None:
            return None
        started = time.perf_counter()
        reach = campaign_reach(session, campaign_id, reposters_limit=REPOSTERS_SHOWN)
        snapshot = store_snapshot(session, reach, time.perf_counter() - started)
    log.info(
        "reach snapshot of campaign %s: %s assignments in %.2f s",
        campaign_id,
        snapshot.assignments,
        snapshot.seconds,
    )
    return snapshot


def reach_refresh_job(engine: Engine, payload: dict[str, Any]) -> None:
    refresh_active(engine)


def refresh_active(engine: Engine, now: datetime | None = None) -> int:
    """Queue snapshots of big campaigns whose figures can still change; returns how many."""
    moment = now or utcnow()
    query = (
        select(ReachSnapshot.campaign_id)
        .join(Campaign, col(Campaign.id) == col(ReachSnapshot.campaign_id))
        .where(
            col(ReachSnapshot.assignments) >= LIVE_LIMIT,
            col(Campaign.deadline) >= moment - ACTIVE_AFTER_DEADLINE,
        )
    )
    with Session(engine) as session, session.begin():
        campaign_ids = list(session.exec(query))
        for campaign_id in campaign_ids:
            schedule(session, campaign_id, moment)
    return len(campaign_ids)
