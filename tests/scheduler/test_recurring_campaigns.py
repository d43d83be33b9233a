"""The recurring_campaigns job: each occurrence's drafts exactly once, however many workers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from content import recurrence
from content.models import Campaign, Post, PostStatus, RecurrenceOccurrence
from gaung import i18n
from gaung.db import utcnow
from kernel import recurring
from kernel.jobs import run_due
from kernel.models import WorkItem, WorkStatus
from roster.models import Role
from scheduler import recurring_campaigns
from tests.factories import make_agency, make_campaign, make_post, make_user

WITA = "Asia/Makassar"


@pytest.fixture(autouse=True)
def fresh_recurring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a process that has enqueued no period yet."""
    monkeypatch.setattr(recurring, "_enqueued", {})


def _weekly_from(session: Session, first: datetime) -> Campaign:
    """A campaign with one draft that repeats weekly on ``first``'s weekday and time (WITA)."""
    agency = make_agency(session)
    agency.timezone = WITA
    session.add(agency)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    make_post(session, campaign, editor)
    local = i18n.local_time(first, WITA)
    recurrence.set_recurrence(
        session,
        editor,
        campaign,
        rule=f"FREQ=WEEKLY;BYDAY={recurrence.WEEKDAYS[local.weekday()]}",
        first_at=first,
        timezone=WITA,
    )
    return campaign


def _copies(session: Session, template: Campaign) -> list[Campaign]:
    session.expire_all()
    return list(
        session.exec(
            select(Campaign).where(
                Campaign.agency_id == template.agency_id, Campaign.id != template.id
            )
        )
    )


def test_the_hourly_job_makes_the_weeks_draft_once_across_processes(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    template = _weekly_from(session, first)
    spec = recurring.RECURRING[recurring_campaigns.JOB_KIND]
    assert spec.every == timedelta(hours=1)

    now = utcnow()
    recurring.enqueue_due(db, now)
    monkeypatch.setattr(recurring, "_enqueued", {})  # a second process ticks the same hour
    recurring.enqueue_due(db, now)
    run_due(db, "w1", limit=50)
    run_due(db, "w2", limit=50)

    items = list(
        session.exec(select(WorkItem).where(WorkItem.kind == recurring_campaigns.JOB_KIND))
    )
    assert [i.status for i in items] == [WorkStatus.DONE]
    copies = _copies(session, template)
    assert len(copies) == 1
    assert copies[0].starts_at.replace(tzinfo=UTC) == first
    drafts = session.exec(select(Post).where(Post.campaign_id == copies[0].id)).all()
    assert [p.status for p in drafts] == [PostStatus.DRAFT]

    # The next hour's run finds nothing new to make.
    with db.begin() as conn:
        table = WorkItem.__table__  # type: ignore[attr-defined]
        conn.execute(update(table).values(run_at=utcnow() - timedelta(hours=2)))
    recurring.enqueue_due(db, now + timedelta(hours=1))
    run_due(db, "w1", limit=50)
    assert len(_copies(session, template)) == 1


def test_workers_running_at_the_same_moment_make_each_occurrence_once(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = (utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)
    template = _weekly_from(session, first)
    # Three weeks of occurrences due at once, and four workers starting together.
    monkeypatch.setattr(recurrence, "LOOKAHEAD", timedelta(days=21))
    barrier = threading.Barrier(4)
    made: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            made.append(recurrence.make_due(db))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    copies = _copies(session, template)
    rows = session.exec(select(func.count()).select_from(RecurrenceOccurrence)).one()
    assert sum(made) == len(copies) == rows == 3
    starts = sorted(c.starts_at.replace(tzinfo=UTC) for c in copies)
    assert starts == [first + timedelta(weeks=n) for n in range(3)]
    posts = session.exec(
        select(func.count())
        .select_from(Post)
        .where(col(Post.campaign_id).in_([c.id for c in copies]))
    ).one()
    assert posts == len(copies)
