"""Who has not acted yet, per unit, and reminding exactly them by hand.

*Not acted yet*: an active ASN holding an assignment of the campaign that is still open
(pending, or its reported link was rejected) and not past its deadline: no report, no
decline, not expired or withdrawn. People are grouped by their unit (``asn.unit_id``).

*Send reminder* (per unit, or for every unit at once) recomputes that list when it runs
and queues one reminder through the outbox per person on it, with the scheduled
reminders' template (``scheduler.reminders.reminder_rows``). Skipped, and counted:

- people who got the assignment notice or a reminder of the campaign (scheduled or by
  hand) within ``reminders.recent_hours``;
- people who turned reminders off, unless the campaign is urgent (as scheduled ones).

Each unit is reminded by hand at most once per ``reminders.manual_interval_hours``. A
send is a ``manual_reminder`` row: its ``seq`` is unique per campaign and unit, so two
clicks racing each other cannot both be the next one (the loser is refused), and its
``request_key`` (the form's one-off token or the API's Idempotency-Key) is unique too,
so a double submit or a retry finds the first answer instead of sending again. The row,
the outbox messages (key ``manual-reminder:<campaign>:<asn>:<row id>``) and the audit
entry are one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Field, Session, SQLModel

from content.models import Campaign
from gaung.db import utcnow
from gaung.errors import N_, NotFoundError
from gaung.settings import PLATFORMS, get_settings
from kernel import audit, notices
from kernel.outbox import OutboxKind, OutboxMessage, OutboxStatus
from roster.models import Asn, Unit, User
from scheduler import reminders

# Messages that did not reach anyone do not count as "told recently".
_NOT_DELIVERED = (OutboxStatus.FAILED, OutboxStatus.CANCELLED, OutboxStatus.RESENT)
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_asn = Asn.__table__  # type: ignore[attr-defined]
REQUEST_KEY_MAX = 64


class ManualReminder(SQLModel, table=True):
    """One "send reminder" that queued messages: for one campaign and unit, by whom, how many."""

    __tablename__ = "manual_reminder"
    __table_args__ = (
        # The n-th send of the campaign to the unit: two racing clicks cannot both be next.
        UniqueConstraint("campaign_id", "unit_id", "seq", name="uq_manual_reminder_seq"),
        # One send per click (form token or Idempotency-Key): a retry finds it.
        UniqueConstraint(
            "campaign_id", "unit_id", "request_key", name="uq_manual_reminder_request"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    seq: int
    request_key: str = Field(max_length=REQUEST_KEY_MAX)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow)
    queued: int = 0
    skipped_recent: int = 0
    skipped_muted: int = 0


# --- who has not acted yet --------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """One ASN with open assignments of the campaign."""

    asn_id: int
    name: str
    unit_id: int
    messenger: str
    platforms: tuple[str, ...]
    open: int  # assignments still open
    muted: bool  # turned reminders off
    last_notice_at: datetime | None  # the assignment notice (latest), sent or queued
    last_reminder_at: datetime | None  # the latest reminder, scheduled or by hand


@dataclass(frozen=True)
class UnitWaiting:
    unit_id: int
    unit: str
    people: list[Waiting]
    last_manual_at: datetime | None
    next_manual_at: datetime | None  # None: a reminder by hand is possible now


def intervals() -> tuple[timedelta, timedelta]:
    """(between two reminders by hand of one unit, "told recently")."""
    settings = get_settings().reminders
    return timedelta(hours=settings.manual_interval_hours), timedelta(hours=settings.recent_hours)


def _last_messages(session: Session, campaign_id: int, asn_ids: list[int]) -> dict[int, Any]:
    """Per ASN: when their latest notice and reminder about the campaign went out (or queued)."""
    if not asn_ids:
        return {}
    moment = func.coalesce(_outbox.c.sent_at, _outbox.c.created_at)
    found: dict[int, Any] = {}
    for start in range(0, len(asn_ids), 1000):
        query = (
            select(_outbox.c.asn_id, _outbox.c.kind, func.max(moment).label("at"))
            .where(
                _outbox.c.campaign_id == campaign_id,
                _outbox.c.asn_id.in_(asn_ids[start : start + 1000]),
                _outbox.c.kind.in_([str(OutboxKind.ASSIGNMENT), str(OutboxKind.REMINDER)]),
                _outbox.c.status.not_in([str(s) for s in _NOT_DELIVERED]),
            )
            .group_by(_outbox.c.asn_id, _outbox.c.kind)
        )
        for row in session.connection().execute(query):
            found.setdefault(row.asn_id, {})[row.kind] = row.at
    return found


def _recently_told(
    session: Session, campaign_id: int, asn_ids: list[int], since: datetime
) -> set[int]:
    """ASN who got a notice or reminder of the campaign created after ``since``."""
    told: set[int] = set()
    for start in range(0, len(asn_ids), 1000):
        query = select(_outbox.c.asn_id).where(
            _outbox.c.campaign_id == campaign_id,
            _outbox.c.asn_id.in_(asn_ids[start : start + 1000]),
            _outbox.c.kind.in_([str(OutboxKind.ASSIGNMENT), str(OutboxKind.REMINDER)]),
            _outbox.c.status.not_in([str(s) for s in _NOT_DELIVERED]),
            _outbox.c.created_at > since,
        )
        told.update(session.connection().execute(query.distinct()).scalars())
    return told


def _open_rows(
    session: Session, campaign_id: int, now: datetime, unit_id: int | None = None
) -> list[Any]:
    query = reminders.open_per_asn(campaign_id, now, include_muted=True)
    if unit_id is not None:
        query = query.where(_asn.c.unit_id == unit_id)
    return list(session.connection().execute(query))


def _last_sends(session: Session, campaign_id: int) -> dict[int, datetime]:
    """unit id -> when it was last reminded by hand about the campaign."""
    table = ManualReminder.__table__  # type: ignore[attr-defined]
    query = (
        select(table.c.unit_id, func.max(table.c.at))
        .where(table.c.campaign_id == campaign_id)
        .group_by(table.c.unit_id)
    )
    return {unit_id: at for unit_id, at in session.connection().execute(query)}


def not_acted(
    session: Session, campaign: Campaign, now: datetime | None = None
) -> list[UnitWaiting]:
    """Per unit (by name), the people who have not acted on the campaign yet (by name)."""
    assert campaign.id is not None
    now = now or utcnow()
    rows = _open_rows(session, campaign.id, now)
    last = _last_messages(session, campaign.id, [r.id for r in rows])
    by_unit: dict[int, list[Waiting]] = {}
    for row in rows:
        told = last.get(row.id, {})
        by_unit.setdefault(row.unit_id, []).append(
            Waiting(
                asn_id=row.id,
                name=row.name,
                unit_id=row.unit_id,
                messenger=row.messenger,
                platforms=tuple(p for p in PLATFORMS if getattr(row, f"has_{p}")),
                open=row.open,
                muted=bool(row.mute_reminders),
                last_notice_at=told.get(OutboxKind.ASSIGNMENT),
                last_reminder_at=told.get(OutboxKind.REMINDER),
            )
        )
    sends = _last_sends(session, campaign.id)
    interval, _recent = intervals()
    names = _unit_names(session, campaign.agency_id)
    units = []
    for unit_id, people in by_unit.items():
        sent = sends.get(unit_id)
        ready = sent + interval if sent is not None else None
        units.append(
            UnitWaiting(
                unit_id=unit_id,
                unit=names.get(unit_id, str(unit_id)),
                people=sorted(people, key=lambda p: (p.name.casefold(), p.asn_id)),
                last_manual_at=sent,
                next_manual_at=ready if ready is not None and ready > now else None,
            )
        )
    return sorted(units, key=lambda u: (u.unit.casefold(), u.unit_id))


def _unit_names(session: Session, agency_id: int) -> dict[int, str]:
    table = Unit.__table__  # type: ignore[attr-defined]
    query = select(table.c.id, table.c.name).where(table.c.agency_id == agency_id)
    return {unit_id: name for unit_id, name in session.connection().execute(query)}


# --- reminding them ---------------------------------------------------------------------


class Result(StrEnum):
    SENT = "sent"  # a manual reminder row was written (queued > 0)
    REPLAYED = "replayed"  # this request was already done: its first answer
    TOO_SOON = "too_soon"  # the unit was reminded by hand within the interval
    ALL_SKIPPED = "all_skipped"  # everyone was told recently or turned reminders off
    NOBODY = "nobody"  # nobody in the unit still has to act


@dataclass(frozen=True)
class Outcome:
    unit_id: int
    unit: str
    result: Result
    queued: int = 0
    skipped_recent: int = 0
    skipped_muted: int = 0
    next_at: datetime | None = None  # TOO_SOON: from when it is possible again


def remind(
    session: Session,
    user: User,
    campaign: Campaign,
    request_key: str,
    unit_id: int | None = None,
) -> list[Outcome]:
    """Remind the people of one unit (or of every unit with any) who have not acted yet.

    Each unit is its own transaction, committed here. ``unit_id`` must be a unit of the
    campaign's agency (NotFoundError otherwise).
    """
    assert campaign.id is not None
    names = _unit_names(session, campaign.agency_id)
    if unit_id is not None:
        if unit_id not in names:
            raise NotFoundError(N_("Unit not found."))
        unit_ids = [unit_id]
    else:
        rows = _open_rows(session, campaign.id, utcnow())
        unit_ids = sorted({r.unit_id for r in rows}, key=lambda u: (names.get(u, ""), u))
        session.rollback()  # end the read: each unit is a transaction of its own
    outcomes = []
    for unit in unit_ids:
        outcomes.append(_remind_unit(session, user, campaign, unit, names[unit], request_key))
    return outcomes


def _remind_unit(
    session: Session,
    user: User,
    campaign: Campaign,
    unit_id: int,
    unit: str,
    request_key: str,
    *,
    retry: bool = True,
) -> Outcome:
    assert campaign.id is not None
    table = ManualReminder.__table__  # type: ignore[attr-defined]
    mine = (table.c.campaign_id == campaign.id, table.c.unit_id == unit_id)
    conn = session.connection()
    done = conn.execute(select(table).where(*mine, table.c.request_key == request_key)).first()
    if done is not None:
        session.rollback()
        return _replayed(unit_id, unit, done)
    now = utcnow()
    interval, recent = intervals()
    last = conn.execute(select(func.max(table.c.seq), func.max(table.c.at)).where(*mine)).one()
    if last[1] is not None and last[1] + interval > now:
        session.rollback()
        return Outcome(unit_id, unit, Result.TOO_SOON, next_at=last[1] + interval)
    urgent = reminders.is_urgent(conn, campaign.id, campaign.kind)
    people = _open_rows(session, campaign.id, now, unit_id)
    if not people:
        session.rollback()
        return Outcome(unit_id, unit, Result.NOBODY)
    told = _recently_told(session, campaign.id, [p.id for p in people], now - recent)
    muted = {p.id for p in people if p.mute_reminders and not urgent and p.id not in told}
    chosen = [p for p in people if p.id not in told and p.id not in muted]
    skipped_recent, skipped_muted = len(people) - len(chosen) - len(muted), len(muted)
    if not chosen:
        session.rollback()
        return Outcome(
            unit_id,
            unit,
            Result.ALL_SKIPPED,
            skipped_recent=skipped_recent,
            skipped_muted=skipped_muted,
        )
    record = ManualReminder(
        campaign_id=campaign.id,
        unit_id=unit_id,
        seq=(last[0] or 0) + 1,
        request_key=request_key,
        actor_id=user.id,
        at=now,
        queued=len(chosen),
        skipped_recent=skipped_recent,
        skipped_muted=skipped_muted,
    )
    session.add(record)
    try:
        session.flush()
    except (IntegrityError, OperationalError):
        # Another click (or this one, retried) got there first: its row breaks ours
        # (PostgreSQL), or SQLite will not let a read that saw the table before that
        # commit write to it. Answer once more as it stands now.
        session.rollback()
        if not retry:
            raise
        return _remind_unit(session, user, campaign, unit_id, unit, request_key, retry=False)
    record_id = record.id
    rows = reminders.reminder_rows(
        chosen,
        campaign_id=campaign.id,
        title=campaign.title,
        deadline=campaign.deadline,
        urgent=urgent,
        key=lambda asn_id: f"{reminders.MANUAL_PREFIX}{campaign.id}:{asn_id}:{record_id}",
        now=now,
    )
    notices.queue_rows(session.connection(), rows)
    audit.record(
        session,
        actor=user,
        action="campaign.reminded",
        entity="campaign",
        entity_id=campaign.id,
        agency_id=campaign.agency_id,
        detail=(
            f"unit {unit_id} ({unit}): {len(chosen)} queued, {skipped_recent} skipped as told "
            f"recently, {skipped_muted} skipped as reminders off"
        ),
    )
    session.commit()
    return Outcome(
        unit_id,
        unit,
        Result.SENT,
        queued=len(chosen),
        skipped_recent=skipped_recent,
        skipped_muted=skipped_muted,
    )


def _replayed(unit_id: int, unit: str, done: Any) -> Outcome:
    return Outcome(
        unit_id,
        unit,
        Result.REPLAYED,
        queued=done.queued,
        skipped_recent=done.skipped_recent,
        skipped_muted=done.skipped_muted,
    )
