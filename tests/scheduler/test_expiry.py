"""Pending assignments past their deadline become EXPIRED; nothing else does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assignments.models import Assignment, AssignmentStatus
from content.models import Campaign, PostStatus
from gaung.db import utcnow
from kernel.models import WorkItem
from kernel.queue import RetryLater
from scheduler.dispatch import dispatch_post
from scheduler.expiry import GRACE, expire_post, expiry_key, sweep
from scheduler.verify import schedule_post_round
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)


def _tasks(session: Session, count: int) -> list[Assignment]:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency, editor), editor)
    return [make_assignment(session, post, make_asn(session, unit)) for _ in range(count)]


def _set(session: Session, task: Assignment, status: str, deadline_in: timedelta) -> None:
    task.status, task.deadline = status, utcnow() + deadline_in
    session.add(task)
    session.commit()


def _statuses(session: Session, tasks: list[Assignment]) -> list[str]:
    session.expire_all()
    return [session.get_one(Assignment, t.id).status for t in tasks]


def test_only_pending_assignments_past_their_deadline_expire(db: Engine, session: Session) -> None:
    tasks = _tasks(session, 4)
    _set(session, tasks[0], AssignmentStatus.PENDING, -timedelta(minutes=1))
    _set(session, tasks[1], AssignmentStatus.REPORTED, -timedelta(minutes=1))
    _set(session, tasks[2], AssignmentStatus.DECLINED, -timedelta(minutes=1))
    _set(session, tasks[3], AssignmentStatus.PENDING, timedelta(hours=3))  # deadline moved

    assert expire_post(db, tasks[0].post_id) == 1

    assert _statuses(session, tasks) == ["expired", "reported", "declined", "pending"]
    later = tasks[3].deadline + GRACE
    item = session.exec(
        select(WorkItem).where(WorkItem.key == expiry_key(tasks[0].post_id, later))
    ).one()
    assert item.kind == "expire"


def test_expiry_waits_for_the_last_verification_round(db: Engine, session: Session) -> None:
    [task] = _tasks(session, 1)
    _set(session, task, AssignmentStatus.PENDING, -timedelta(minutes=1))
    schedule_post_round(session, task.post_id, 7)
    session.commit()

    with pytest.raises(RetryLater) as caught:
        expire_post(db, task.post_id)

    assert caught.value.at > utcnow()
    assert _statuses(session, [task]) == ["pending"]


def test_dispatch_queues_the_expiry_just_after_the_deadline(db: Engine, session: Session) -> None:

    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    make_asn(session, unit)
    assert post.id is not None

    dispatch_post(db, post.id)

    deadline = session.get_one(Campaign, campaign.id).deadline
    item = session.exec(select(WorkItem).where(WorkItem.kind == "expire")).one()
    assert item.key == expiry_key(post.id, deadline + GRACE)
    assert item.run_at == deadline + GRACE


def test_the_daily_sweep_expires_what_a_lost_item_left_behind(db: Engine, session: Session) -> None:
    tasks = _tasks(session, 3)
    _set(session, tasks[0], AssignmentStatus.PENDING, -timedelta(days=2))
    _set(session, tasks[1], AssignmentStatus.PENDING, -timedelta(hours=2))  # its item comes first
    _set(session, tasks[2], AssignmentStatus.VERIFIED, -timedelta(days=2))

    assert sweep(db) == 1

    assert _statuses(session, tasks) == ["expired", "pending", "verified"]
