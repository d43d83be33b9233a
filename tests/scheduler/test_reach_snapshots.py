"""Reach snapshots of big campaigns: computed by a job, refreshed while the campaign is active."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assignments import reach_snapshot
from assignments.reach_snapshot import ReachSnapshot, from_payload
from content.models import Campaign, PostStatus
from gaung.db import utcnow
from kernel import jobs
from kernel.models import WorkItem
from scheduler.dispatch import dispatch_post
from scheduler.reach_snapshots import refresh_active, schedule, stale, take_snapshot
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)


def _campaign(session: Session, assigned: int = 2) -> Campaign:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor)
    for _ in range(assigned):
        make_assignment(session, post, make_asn(session, unit))
    return campaign


def test_a_snapshot_stores_the_live_figures(db: Engine, session: Session) -> None:
    campaign = _campaign(session)
    assert campaign.id is not None

    snapshot = take_snapshot(db, campaign.id)

    assert snapshot is not None
    assert snapshot.assignments == 2
    stored = session.get_one(ReachSnapshot, campaign.id)
    assert from_payload(stored.payload).total.assignments == 2
    assert take_snapshot(db, 424242) is None


def test_only_big_campaigns_still_active_are_refreshed(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reach_snapshot, "LIVE_LIMIT", 2)
    monkeypatch.setattr("scheduler.reach_snapshots.LIVE_LIMIT", 2)
    big, small, old = _campaign(session, 2), _campaign(session, 1), _campaign(session, 2)
    old.deadline = utcnow() - timedelta(days=30)
    session.add(old)
    session.commit()
    for campaign in (big, small, old):
        take_snapshot(db, campaign.id or 0)

    assert refresh_active(db) == 1
    assert refresh_active(db) == 1  # the same period: still one item

    items = session.exec(select(WorkItem).where(WorkItem.kind == "reach_snapshot")).all()
    assert [i.payload for i in items] == [f'{{"campaign_id": {big.id}}}']


def test_one_snapshot_per_period_however_often_it_is_asked(db: Engine, session: Session) -> None:
    campaign = _campaign(session, 0)
    now = utcnow()
    schedule(session, campaign.id or 0, now)
    schedule(session, campaign.id or 0, now)
    session.commit()

    assert len(session.exec(select(WorkItem)).all()) == 1
    assert stale(now - timedelta(minutes=6), now)
    assert not stale(now - timedelta(minutes=1), now)


def test_a_dispatch_that_makes_a_campaign_big_queues_its_snapshot(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("scheduler.reach_snapshots.LIVE_LIMIT", 3)
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    make_asn(session, unit)
    assert post.id is not None

    dispatch_post(db, post.id)
    jobs.run_due(db, "test-worker", limit=20)

    snapshot = session.get(ReachSnapshot, campaign.id)
    assert snapshot is not None
    assert snapshot.assignments == 3  # x, facebook and instagram


def test_a_small_dispatch_queues_no_snapshot(db: Engine, session: Session) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency, editor), editor, status="approved")
    make_asn(session, make_unit(session, agency))
    assert post.id is not None

    dispatch_post(db, post.id)

    assert session.exec(select(WorkItem).where(WorkItem.kind == "reach_snapshot")).all() == []
