"""Who gets the weekly report e-mail, and which weeks each was sent (scheduler.weekly_report).

A staff member who may read the dashboard's figures and download its XLSX (supervisor,
approver, admin) turns the weekly report on or off on their own account page; it is off
until they do, and when they turned it on is recorded (``since``) and audited.

Each person's report of a week is claimed in ``weekly_report_mail`` before it is sent: the
unique (person, week) row is written and committed first, so however many workers run the
job, or however often a worker retries it, one send is ever attempted. A claim whose send
never came back (the worker died mid-send) is marked ``unknown`` and not sent again: SMTP
cannot tell whether the first one arrived, and a duplicate report is worse than a missing one.
A claim younger than a work item's lease is a send under way elsewhere, and is left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import UniqueConstraint, delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from gaung.db import utcnow
from gaung.errors import N_, GaungError
from gaung.settings import get_settings
from kernel import audit
from roster.models import Role, User

# Those who read the dashboard's totals and every assignment (the attachment holds both).
ROLES = (Role.SUPERVISOR, Role.APPROVER, Role.ADMIN)


class WeeklyReportSubscription(SQLModel, table=True):
    """A staff member who asked for the weekly report, since when. No row: off."""

    __tablename__ = "weekly_report_subscription"
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    since: datetime = Field(default_factory=utcnow)


class MailStatus(StrEnum):
    SENDING = "sending"  # claimed; the send is under way (or its worker died)
    SENT = "sent"
    FAILED = "failed"  # the mail server refused it for good
    UNKNOWN = "unknown"  # a worker died while sending: never sent again


class WeeklyReportMail(SQLModel, table=True):
    """One person's report of one ISO week (``2026-W49``): claimed once, sent at most once."""

    __tablename__ = "weekly_report_mail"
    __table_args__ = (UniqueConstraint("user_id", "week"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    week: str = Field(max_length=10)
    status: str = Field(default=MailStatus.SENDING, max_length=10)
    claimed_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    error: str | None = Field(default=None, max_length=500)


def may_subscribe(user: User) -> bool:
    return user.role in ROLES


def subscribed_since(session: Session, user: User) -> datetime | None:
    """When the person turned the weekly report on; None while it is off."""
    row = session.get(WeeklyReportSubscription, user.id)
    return row.since if row else None


def set_subscription(session: Session, user: User, on: bool) -> bool:
    """Turn the person's weekly report on or off (audited). Returns whether anything changed.

    Commits. Turning on what is on keeps its first ``since``.
    """
    if on and not may_subscribe(user):
        raise GaungError(
            N_("The weekly report is for supervisors, approvers and administrators."),
            field="weekly_report",
        )
    assert user.id is not None
    row = session.get(WeeklyReportSubscription, user.id)
    if (row is not None) == on:
        return False
    if on:
        session.add(WeeklyReportSubscription(user_id=user.id))
    else:
        session.delete(row)
    audit.record(
        session,
        actor=user,
        action="user.weekly_report_on" if on else "user.weekly_report_off",
        entity="user",
        entity_id=user.id,
        agency_id=user.agency_id,
    )
    session.commit()
    return True


def subscribers(session: Session) -> list[User]:
    """Active staff who asked for the report and still hold a role it is for, by id."""
    query = (
        select(User)
        .join(WeeklyReportSubscription, col(WeeklyReportSubscription.user_id) == col(User.id))
        .where(col(User.active), col(User.role).in_([str(r) for r in ROLES]))
        .order_by(col(User.id))
    )
    return list(session.exec(query))


# --- once per person and week -----------------------------------------------------------------


def claim(engine: Engine, user_id: int, week: str) -> bool:
    """Take the right to send ``user_id`` the report of ``week``; False if it was taken before.

    A claim still ``sending`` after a work item's lease (its worker is taken for dead) means
    that attempt's outcome is unknown: it is marked so and not sent again; a younger one is
    another worker's send under way. Commits before returning, so the claim exists before the
    send.
    """
    stale = utcnow() - timedelta(seconds=get_settings().scheduler.lease_seconds)
    with Session(engine) as session:
        found = session.exec(
            select(WeeklyReportMail).where(
                WeeklyReportMail.user_id == user_id, WeeklyReportMail.week == week
            )
        ).first()
        if found is not None:
            if found.status == MailStatus.SENDING and found.claimed_at < stale:
                found.status = MailStatus.UNKNOWN
                found.error = "the previous attempt never finished; not sent again"
                session.add(found)
                session.commit()
            return False
        session.add(WeeklyReportMail(user_id=user_id, week=week))
        try:
            session.commit()
        except IntegrityError:  # another worker claimed it a moment ago
            session.rollback()
            return False
    return True


def _finish(engine: Engine, user_id: int, week: str, **values: object) -> None:
    table = WeeklyReportMail.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            update(table).where(table.c.user_id == user_id, table.c.week == week).values(**values)
        )


def mark_sent(engine: Engine, user_id: int, week: str) -> None:
    _finish(engine, user_id, week, status=MailStatus.SENT, sent_at=utcnow(), error=None)


def mark_failed(engine: Engine, user_id: int, week: str, reason: str) -> None:
    _finish(engine, user_id, week, status=MailStatus.FAILED, error=reason[:500])


def release(engine: Engine, user_id: int, week: str) -> None:
    """Give the claim back after a send that certainly did not happen (try again later)."""
    table = WeeklyReportMail.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            delete(table).where(
                table.c.user_id == user_id,
                table.c.week == week,
                table.c.status == MailStatus.SENDING,
            )
        )
