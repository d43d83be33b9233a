"""Recurring campaigns: an RFC 5545 rule on a campaign, each occurrence a new draft campaign.

The rule (python-dateutil's ``rrulestr``) is read in the wall time of the zone it was set
in: its DTSTART is the first occurrence's local date and time, so "every Friday 09:00
WITA" stays 09:00 WITA. The hourly ``recurring_campaigns`` job (scheduler) makes every
occurrence due within ``LOOKAHEAD`` as a copy of the campaign (title with the date, kind, units,
reminders, the same length) and of its posts (texts, own texts and alternatives, link,
image, hashtags, platforms; not the official post links, which a new post does not have
yet). The copies are drafts: they go through submission and approval like any other.

Exactly once: the row ``recurrence_occurrence(recurrence_id, occurrence)`` is inserted in
the transaction that makes the copy, and its primary key lets only one worker succeed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from content import variants as post_variants
from content.models import (
    Campaign,
    CampaignRecurrence,
    CampaignUnit,
    Post,
    PostStatus,
    RecurrenceOccurrence,
)
from gaung import i18n
from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from kernel import audit
from roster.models import Role, User

log = logging.getLogger(__name__)

# How far ahead an occurrence's draft is made, so there is time to review and approve it.
LOOKAHEAD = timedelta(days=7)
WRITERS = frozenset({Role.EDITOR, Role.ADMIN})
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FREQUENCIES = ("weekly", "monthly")
NTH = (1, 2, 3, 4, -1)  # first .. fourth, last
INTERVAL_MAX = 12
COUNT_MAX = 520
RULE_MAX = 300
_PARTS = frozenset({"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "UNTIL", "COUNT", "WKST"})
_BYDAY = re.compile(r"^([+-]?[1-5])?(MO|TU|WE|TH|FR|SA|SU)$")
_TITLE_MAX = 200


# --- the rule -------------------------------------------------------------------------


def build_rule(
    *,
    frequency: str,
    interval: int = 1,
    weekdays: Sequence[str] = (),
    monthly_by: str = "day",
    month_day: int | None = None,
    nth: int | None = None,
    nth_weekday: str | None = None,
    until: date | None = None,
    count: int | None = None,
    starts_on: date | None = None,
) -> str:
    """The RRULE value for the console's simple form; raises GaungError naming the field.

    Weekly: on ``weekdays``; monthly: on ``month_day`` (1-31; months without it are
    skipped) or the ``nth`` (1-4, -1 = last) ``nth_weekday``. ``until`` (a local date, the
    last day an occurrence may fall on) or ``count`` ends it; neither: until stopped.
    """
    if frequency not in FREQUENCIES:
        raise GaungError(N_("Choose weekly or monthly."), field="frequency")
    if not 1 <= interval <= INTERVAL_MAX:
        raise GaungError(
            N_("Repeat every 1 to %(limit)s weeks or months."),
            field="interval",
            limit=INTERVAL_MAX,
        )
    parts = [f"FREQ={frequency.upper()}"]
    if interval != 1:
        parts.append(f"INTERVAL={interval}")
    if frequency == "weekly":
        days = [d for d in WEEKDAYS if d in set(weekdays)]
        if not days or len(days) != len(set(weekdays)):
            raise GaungError(N_("Choose at least one day of the week."), field="weekdays")
        parts.append("BYDAY=" + ",".join(days))
    elif monthly_by == "day":
        if month_day is None or not 1 <= month_day <= 31:
            raise GaungError(N_("Enter a day of the month from 1 to 31."), field="month_day")
        parts.append(f"BYMONTHDAY={month_day}")
    elif monthly_by == "weekday":
        if nth not in NTH:
            raise GaungError(N_("Choose which week of the month."), field="nth")
        if nth_weekday not in WEEKDAYS:
            raise GaungError(N_("Choose a day of the week."), field="nth_weekday")
        parts.append(f"BYDAY={nth}{nth_weekday}")
    else:
        raise GaungError(
            N_("Choose a day of the month or a weekday of the month."), field="monthly_by"
        )
    if until is not None and count is not None:
        raise GaungError(N_("End on a date or after a number of times, not both."), field="end")
    if until is not None:
        if starts_on is not None and until < starts_on:
            raise GaungError(N_("The end date is before the first date."), field="until")
        parts.append(f"UNTIL={until:%Y%m%d}T235959")
    if count is not None:
        if not 1 <= count <= COUNT_MAX:
            raise GaungError(
                N_("The number of times must be from 1 to %(limit)s."),
                field="count",
                limit=COUNT_MAX,
            )
        parts.append(f"COUNT={count}")
    return ";".join(parts)


def rule_parts(rule: str) -> dict[str, str]:
    """The RRULE value as {NAME: value} (names upper case), e.g. to fill the form again."""
    found: dict[str, str] = {}
    for part in rule.strip().removeprefix("RRULE:").split(";"):
        name, _sep, value = part.partition("=")
        if name.strip():
            found[name.strip().upper()] = value.strip().upper()
    return found


def parse_rule(rule: str, dtstart: datetime) -> rrule:
    """The checked rule from ``dtstart`` (naive local wall time); GaungError(field="rule")."""
    rule = rule.strip().removeprefix("RRULE:")
    bad = GaungError(N_("This is not a repeat rule Gaung can use."), field="rule")
    if not rule or len(rule) > RULE_MAX or "\n" in rule:
        raise bad
    parts = rule_parts(rule)
    if set(parts) - _PARTS or parts.get("FREQ") not in ("WEEKLY", "MONTHLY"):
        raise bad
    if any(not _BYDAY.match(day) for day in parts.get("BYDAY", "MO").split(",")):
        raise bad
    count, interval = parts.get("COUNT", "1"), parts.get("INTERVAL", "1")
    if not (count.isdigit() and 1 <= int(count) <= COUNT_MAX):
        raise bad
    if not (interval.isdigit() and 1 <= int(interval) <= INTERVAL_MAX):
        raise bad
    for day in (d for d in parts.get("BYMONTHDAY", "").split(",") if d):
        if not (day.lstrip("-").isdigit() and 1 <= abs(int(day)) <= 31):
            raise bad
    try:
        parsed = rrulestr(rule, dtstart=dtstart, forceset=False)
    except (ValueError, TypeError, OverflowError):
        raise bad from None
    if not isinstance(parsed, rrule):
        raise bad
    return parsed


def _wall_start(first_at: datetime, zone: str) -> datetime:
    return i18n.local_time(first_at, zone).replace(tzinfo=None)


def occurrences(recurrence: CampaignRecurrence, after: datetime, until: datetime) -> list[datetime]:
    """The rule's moments (aware UTC) with ``after <= moment <= until``."""
    zone = i18n.zone(recurrence.timezone)
    start = _wall_start(recurrence.first_at, recurrence.timezone)
    parsed = parse_rule(recurrence.rule, start)
    low = i18n.local_time(after, zone).replace(tzinfo=None)
    high = i18n.local_time(until, zone).replace(tzinfo=None)
    if high < low:
        return []
    # Widen by a day for wall times that map oddly; the exact bounds are checked in UTC.
    found = parsed.between(low - timedelta(days=1), high + timedelta(days=1), inc=True)
    moments = [moment.replace(tzinfo=zone).astimezone(UTC) for moment in found]
    return [m for m in moments if _utc(after) <= m <= _utc(until)]


def upcoming(recurrence: CampaignRecurrence, now: datetime, limit: int = 5) -> list[datetime]:
    """The next ``limit`` moments (aware UTC) from ``now`` on."""
    zone = i18n.zone(recurrence.timezone)
    parsed = parse_rule(recurrence.rule, _wall_start(recurrence.first_at, recurrence.timezone))
    found: list[datetime] = []
    moment = parsed.after(i18n.local_time(now, zone).replace(tzinfo=None), inc=True)
    while moment is not None and len(found) < limit:
        found.append(moment.replace(tzinfo=zone).astimezone(UTC))
        moment = parsed.after(moment, inc=False)
    return found


def occurrence_key(moment: datetime) -> str:
    """The occurrence's part of its unique key: UTC in RFC 5545 form."""
    return f"{_utc(moment):%Y%m%dT%H%M%SZ}"


def rfc5545(recurrence: CampaignRecurrence) -> str:
    """DTSTART;TZID=... and RRULE lines, as a calendar program would read them."""
    start = _wall_start(recurrence.first_at, recurrence.timezone)
    return f"DTSTART;TZID={recurrence.timezone}:{start:%Y%m%dT%H%M%S}\nRRULE:{recurrence.rule}"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- services ---------------------------------------------------------------------------


def _check_writer(actor: User, campaign: Campaign) -> None:
    if not actor.active or actor.role not in WRITERS:
        raise ForbiddenError("Your role does not allow this action.")
    if campaign.agency_id != actor.agency_id:
        raise NotFoundError("Campaign not found.")


def get_recurrence(session: Session, campaign: Campaign) -> CampaignRecurrence | None:
    query = select(CampaignRecurrence).where(CampaignRecurrence.campaign_id == campaign.id)
    return session.exec(query).first()


def first_moment(starts_on: date, at: time, zone: str) -> datetime:
    """The local date and time of the first occurrence as aware UTC."""
    return datetime.combine(starts_on, at, tzinfo=i18n.zone(zone)).astimezone(UTC)


def set_recurrence(
    session: Session,
    actor: User,
    campaign: Campaign,
    *,
    rule: str,
    first_at: datetime,
    timezone: str,
    now: datetime | None = None,
) -> CampaignRecurrence:
    """Make the campaign repeat by ``rule`` from ``first_at`` (or change its rule); commits.

    Occurrences already made stay as they are. Refused: a rule that is not weekly or
    monthly, a first date in the past, a rule without any occurrence from now on.
    """
    _check_writer(actor, campaign)
    now = now or utcnow()
    first_at = _utc(first_at)
    try:
        i18n.zone(timezone)
    except Exception:
        raise GaungError(N_("Unknown time zone: %(zone)s."), field="rule", zone=timezone) from None
    existing = get_recurrence(session, campaign)
    unchanged_start = existing is not None and _utc(existing.first_at) == first_at
    if first_at < now - timedelta(minutes=5) and not unchanged_start:
        raise GaungError(
            N_("The first date is in the past; choose a date from today on."), field="starts_on"
        )
    parse_rule(rule, _wall_start(first_at, timezone))
    draft = CampaignRecurrence(
        campaign_id=campaign.id or 0,
        rule=rule.strip().removeprefix("RRULE:"),
        first_at=first_at,
        timezone=timezone,
        created_by=actor.id or 0,
    )
    if not upcoming(draft, now, limit=1):
        raise GaungError(
            N_("This rule has no occurrence from now on; check its end."), field="until"
        )
    if existing is None:
        recurrence = draft
    else:
        session.refresh(existing, with_for_update=True)
        recurrence = existing
        recurrence.rule, recurrence.first_at = draft.rule, draft.first_at
        recurrence.timezone = draft.timezone
        recurrence.active = True
        recurrence.updated_at = utcnow()
    session.add(recurrence)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="campaign.recurrence_set",
        entity="campaign",
        entity_id=campaign.id,
        agency_id=campaign.agency_id,
        detail=rfc5545(recurrence).replace("\n", " "),
    )
    session.commit()
    return recurrence


def stop_recurrence(session: Session, actor: User, campaign: Campaign) -> None:
    """Stop making occurrences (those already made stay); commits."""
    _check_writer(actor, campaign)
    recurrence = get_recurrence(session, campaign)
    if recurrence is None or not recurrence.active:
        raise GaungError(N_("This campaign does not repeat."))
    recurrence.active = False
    recurrence.updated_at = utcnow()
    session.add(recurrence)
    audit.record(
        session,
        actor=actor,
        action="campaign.recurrence_stopped",
        entity="campaign",
        entity_id=campaign.id,
        agency_id=campaign.agency_id,
        detail=recurrence.rule,
    )
    session.commit()


def origin(session: Session, campaign: Campaign) -> Campaign | None:
    """The repeating campaign this one was made from as an occurrence, if any."""
    query = (
        select(Campaign)
        .join(CampaignRecurrence, col(CampaignRecurrence.campaign_id) == col(Campaign.id))
        .join(
            RecurrenceOccurrence,
            col(RecurrenceOccurrence.recurrence_id) == col(CampaignRecurrence.id),
        )
        .where(RecurrenceOccurrence.campaign_id == campaign.id)
    )
    return session.exec(query).first()


def forget(session: Session, campaign_id: int) -> None:
    """Delete a campaign's rule and its made-occurrence rows (the campaign is being deleted)."""
    ids = select(CampaignRecurrence.id).where(CampaignRecurrence.campaign_id == campaign_id)
    session.execute(
        delete(RecurrenceOccurrence).where(col(RecurrenceOccurrence.recurrence_id).in_(ids))
    )
    session.execute(
        delete(CampaignRecurrence).where(col(CampaignRecurrence.campaign_id) == campaign_id)
    )


# --- making occurrences ---------------------------------------------------------------


def _copy_title(title: str, moment: datetime, zone: str) -> str:
    suffix = f" · {i18n.local_time(moment, zone):%Y-%m-%d}"
    return title[: _TITLE_MAX - len(suffix)] + suffix


def make_occurrence(session: Session, recurrence_id: int, moment: datetime) -> Campaign | None:
    """Copy the campaign for the occurrence at ``moment`` (once); commits. None: not made
    (already made by this or another worker, or the rule was stopped meanwhile)."""
    recurrence = session.get(CampaignRecurrence, recurrence_id)
    if recurrence is None or not recurrence.active:
        return None
    key = occurrence_key(moment)
    if session.get(RecurrenceOccurrence, (recurrence_id, key)) is not None:
        return None
    template = session.get(Campaign, recurrence.campaign_id)
    assert template is not None  # foreign key
    if _utc(moment) <= _utc(template.starts_at):
        return None  # the campaign itself is that occurrence
    row = RecurrenceOccurrence(recurrence_id=recurrence_id, occurrence=key)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return None
    start = _utc(moment)
    length = _utc(template.deadline) - _utc(template.starts_at)
    campaign = Campaign(
        agency_id=template.agency_id,
        title=_copy_title(template.title, start, recurrence.timezone),
        kind=template.kind,
        starts_at=start,
        deadline=start + length,
        reminder_hours=template.reminder_hours,
        created_by=recurrence.created_by,
    )
    session.add(campaign)
    session.flush()
    assert campaign.id is not None
    units = session.exec(
        select(CampaignUnit.unit_id).where(CampaignUnit.campaign_id == template.id)
    ).all()
    session.add_all(CampaignUnit(campaign_id=campaign.id, unit_id=u) for u in units)
    posts = session.exec(
        select(Post)
        .where(Post.campaign_id == template.id, Post.status != PostStatus.WITHDRAWN)
        .order_by(col(Post.id))
    ).all()
    for source in posts:
        _copy_post(session, source, template, campaign, recurrence)
    row.campaign_id = campaign.id
    session.add(row)
    audit.record(
        session,
        actor=None,
        action="campaign.recurred",
        entity="campaign",
        entity_id=campaign.id,
        agency_id=campaign.agency_id,
        detail=f"occurrence {key} of campaign {template.id}",
    )
    session.commit()
    return campaign


def _copy_post(
    session: Session,
    source: Post,
    template: Campaign,
    campaign: Campaign,
    recurrence: CampaignRecurrence,
) -> Post:
    """A draft copy of ``source`` at the same offset from its campaign's start."""
    offset = timedelta(0)
    if source.scheduled_at is not None:
        offset = max(timedelta(0), _utc(source.scheduled_at) - _utc(template.starts_at))
    assert campaign.id is not None
    copy = Post(
        campaign_id=campaign.id,
        author_id=recurrence.created_by,
        master_text=source.master_text,
        link=source.link,
        image_path=source.image_path,
        hashtags=source.hashtags,
        platforms=source.platforms,
        urgent=source.urgent,
        status=PostStatus.DRAFT,
        scheduled_at=_utc(campaign.starts_at) + offset,
    )
    session.add(copy)
    session.flush()
    assert copy.id is not None
    own = post_variants.load(session, source.id)
    if own:
        post_variants.replace(session, copy.id, own)
    return copy


def make_due(engine: Engine, now: datetime | None = None) -> int:
    """Make every active rule's occurrences from ``now`` to ``now + LOOKAHEAD``; how many."""
    now = now or utcnow()
    with Session(engine) as session:
        rules = session.exec(
            select(CampaignRecurrence).where(col(CampaignRecurrence.active).is_(True))
        ).all()
        plan: list[tuple[int, datetime]] = []
        for recurrence in rules:
            assert recurrence.id is not None
            try:
                moments = occurrences(recurrence, now, now + LOOKAHEAD)
            except GaungError:
                log.warning("recurrence %s has a rule Gaung cannot read", recurrence.id)
                continue
            plan.extend((recurrence.id, moment) for moment in moments)
    made = 0
    for recurrence_id, moment in plan:
        with Session(engine) as session:
            if make_occurrence(session, recurrence_id, moment) is not None:
                made += 1
    return made
