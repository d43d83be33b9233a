"""The daily digest: routine news once a day for those who chose it, urgent news at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment, AssignmentStatus
from content.models import Campaign, CampaignKind, Post, PostStatus
from gaung.db import utcnow
from kernel import recurring
from kernel.jobs import run_due
from kernel.models import WorkItem, WorkStatus
from kernel.outbox import INBOX_LINK, OutboxKind, OutboxMessage, OutboxStatus
from roster.models import Agency, Asn, Role, Unit, User
from scheduler.digest import DAY, MAX_LISTED, message_key, send_digests
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user

_assignment = Assignment.__table__  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def fresh_recurring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a process that has enqueued no period yet."""
    monkeypatch.setattr(recurring, "_enqueued", {})


def _setup(session: Session) -> tuple[Unit, User]:
    agency = make_agency(session)
    return make_unit(session, agency), make_user(session, agency, Role.EDITOR)


def _asn(session: Session, unit: Unit, **changes: object) -> Asn:
    asn = make_asn(session, unit)
    for name, value in changes.items():
        setattr(asn, name, value)
    session.add(asn)
    session.commit()
    return asn


def _dispatch(
    session: Session,
    db: Engine,
    unit: Unit,
    editor: User,
    *,
    kind: str = CampaignKind.PROGRAM,
    **post: object,
) -> Post:
    campaign = make_campaign(session, session.get_one(Agency, unit.agency_id), editor, kind=kind)
    made = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    for name, value in post.items():
        setattr(made, name, value)
    session.add(made)
    session.commit()
    assert made.id is not None
    dispatch_post(db, made.id)
    return made


def _messages(session: Session, kind: str | None = None) -> list[OutboxMessage]:
    session.expire_all()
    query = select(OutboxMessage).order_by(col(OutboxMessage.asn_id))
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(session.exec(query))


def _next_period() -> datetime:
    """A digest period that ends just after now, so what was dispatched now is in it."""
    return utcnow() + timedelta(minutes=1)


def test_digest_readers_get_no_notice_per_routine_assignment(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    reader = _asn(session, unit, digest=True)
    other = _asn(session, unit)

    _dispatch(session, db, unit, editor)

    assert [m.asn_id for m in _messages(session)] == [other.id]
    assert reader.id is not None


@pytest.mark.parametrize("how", ["hoax", "urgent_post"])
def test_urgent_assignments_reach_digest_readers_at_once_and_first(
    db: Engine, session: Session, how: str
) -> None:
    unit, editor = _setup(session)
    reader = _asn(session, unit, digest=True)
    kind = CampaignKind.HOAX_CLARIFICATION if how == "hoax" else CampaignKind.PROGRAM

    _dispatch(session, db, unit, editor, kind=kind, urgent=how == "urgent_post")

    (message,) = _messages(session)
    assert message.asn_id == reader.id
    assert message.kind == OutboxKind.ASSIGNMENT
    assert message.priority == 1


def test_one_digest_lists_every_new_routine_assignment(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    reader = _asn(session, unit, digest=True, locale="en")
    first = _dispatch(session, db, unit, editor)
    second = _dispatch(session, db, unit, editor, platforms="x")
    period = _next_period()
    assert reader.id is not None

    assert send_digests(db, period) == 1

    (digest,) = _messages(session, OutboxKind.DIGEST)
    assert digest.key == message_key(period.date().isoformat(), reader.id)
    assert digest.key == f"digest:{period.date().isoformat()}:asn:{reader.id}"
    assert digest.status == OutboxStatus.QUEUED
    assert digest.subject == "Daily summary: 4 new assignments"
    for post in (first, second):
        title = session.get_one(Campaign, post.campaign_id).title
        assert title in digest.text
        assert digest.html is not None
        assert title in digest.html
    assert reader.name in digest.text
    assert INBOX_LINK in digest.text


def test_a_digest_is_written_once_per_day(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    _asn(session, unit, digest=True)
    _dispatch(session, db, unit, editor)
    period = _next_period()

    send_digests(db, period)
    send_digests(db, period)

    assert len(_messages(session, OutboxKind.DIGEST)) == 1


def test_the_digest_leaves_out_what_was_announced_done_or_outside_the_day(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    reader = _asn(session, unit, digest=True)
    noticed = _asn(session, unit)  # got a notice per assignment
    done = _asn(session, unit, digest=True)
    old = _asn(session, unit, digest=True)
    _dispatch(session, db, unit, editor)
    with session.begin():
        for assignment in session.exec(select(Assignment).where(Assignment.asn_id == done.id)):
            assignment.status = AssignmentStatus.REPORTED
            session.add(assignment)
    with db.begin() as conn:
        two_days_ago = utcnow() - timedelta(days=2)
        conn.execute(
            update(_assignment)
            .where(_assignment.c.asn_id == old.id)
            .values(created_at=two_days_ago)
        )

    send_digests(db, _next_period())

    assert [m.asn_id for m in _messages(session, OutboxKind.DIGEST)] == [reader.id]
    assert noticed.id is not None


def test_switching_the_digest_off_after_a_dispatch_still_announces_it(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    person = _asn(session, unit, digest=True)
    _dispatch(session, db, unit, editor)
    person.digest = False
    session.add(person)
    session.commit()

    send_digests(db, _next_period())

    assert [m.asn_id for m in _messages(session, OutboxKind.DIGEST)] == [person.id]


def test_a_long_digest_lists_some_campaigns_and_counts_the_rest(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    _asn(session, unit, digest=True, locale="en")
    for _ in range(MAX_LISTED + 2):
        _dispatch(session, db, unit, editor, platforms="x")

    send_digests(db, _next_period())

    (digest,) = _messages(session, OutboxKind.DIGEST)
    assert "…and 2 more campaigns: see your inbox." in digest.text
    assert len(digest.text) < 4096  # Telegram's limit for one message


def test_the_daily_job_fires_once_per_day_across_processes(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit, editor = _setup(session)
    reader = _asn(session, unit, digest=True)
    _dispatch(session, db, unit, editor)
    tomorrow = utcnow() + DAY
    spec = recurring.RECURRING["digest"]
    period = spec.period_start(tomorrow)

    recurring.enqueue_due(db, tomorrow)
    monkeypatch.setattr(recurring, "_enqueued", {})  # a second process ticks the same day
    recurring.enqueue_due(db, tomorrow)
    with db.begin() as conn:  # the period has begun
        table = WorkItem.__table__  # type: ignore[attr-defined]
        conn.execute(update(table).where(table.c.kind == "digest").values(run_at=utcnow() - DAY))
    run_due(db, "w1", limit=20)

    items = list(session.exec(select(WorkItem).where(WorkItem.kind == "digest")))
    assert [(i.key, i.status) for i in items] == [(spec.key(period), WorkStatus.DONE)]
    (digest,) = _messages(session, OutboxKind.DIGEST)
    assert digest.asn_id == reader.id
    assert digest.key == message_key(period.date().isoformat(), reader.id or 0)


def test_the_default_digest_time_is_seven_in_the_morning_in_jakarta() -> None:
    spec = recurring.RECURRING["digest"]
    start = spec.period_start(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    assert start == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 07:00 WIB
