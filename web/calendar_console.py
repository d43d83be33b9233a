"""The content calendar and recurring campaigns in the Humas console.

``/console/calendar`` shows a month or a week of posts in the staff member's zone: sent
ones at their dispatch time, the others (drafts, waiting, rejected, approved) at their
planned time, and the coming occurrences of repeating campaigns not made yet. A draft's
entry carries a small form to move it to another time (content.workflow.move_post).
``/console/campaigns/{id}/repeat`` sets, changes or stops a campaign's repeat rule
(content.recurrence), built from a simple form into an RFC 5545 RRULE.
"""

from __future__ import annotations

import calendar as calendar_math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from babel.dates import get_day_names
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from content import recurrence, workflow
from content.models import (
    Campaign,
    CampaignRecurrence,
    Post,
    PostStatus,
    RecurrenceOccurrence,
)
from gaung import i18n
from gaung.db import get_session, utcnow
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from gaung.i18n import gettext as _
from roster.models import Role, User
from web.console import (
    flash,
    local_input,
    page,
    parse_local,
    reader,
    see_other,
    shown_field,
    staff_zone,
    writer,
)
from web.deps import verify_csrf

router = APIRouter(prefix="/console", include_in_schema=False)

VIEWS = ("month", "week")
SHOWN = (
    PostStatus.DRAFT,
    PostStatus.SUBMITTED,
    PostStatus.REJECTED,
    PostStatus.APPROVED,
    PostStatus.DISPATCHED,
)
REPEAT_FIELDS = frozenset(
    {
        "frequency",
        "interval",
        "weekdays",
        "monthly_by",
        "month_day",
        "nth",
        "nth_weekday",
        "at",
        "starts_on",
        "end",
        "until",
        "count",
        "rule",
    }
)


@dataclass(frozen=True)
class Entry:
    """One line of the calendar: a post, or a coming occurrence not made yet."""

    moment: datetime  # aware UTC
    title: str
    url: str
    status: str  # a PostStatus, or "planned"
    post_id: int | None = None
    movable: bool = False
    local_value: str = ""  # the move form's datetime-local value


# --- the calendar ---------------------------------------------------------------------


def _anchor(value: str | None, today: date) -> date:
    if not value:
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        return today


def _span(view: str, anchor: date) -> tuple[date, date]:
    """First and last day shown (whole weeks, Monday first)."""
    if view == "week":
        start = anchor - timedelta(days=anchor.weekday())
        return start, start + timedelta(days=6)
    first = anchor.replace(day=1)
    last = first.replace(day=calendar_math.monthrange(first.year, first.month)[1])
    return first - timedelta(days=first.weekday()), last + timedelta(days=6 - last.weekday())


def _neighbours(view: str, anchor: date) -> tuple[date, date]:
    if view == "week":
        return anchor - timedelta(days=7), anchor + timedelta(days=7)
    first = anchor.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return previous, following


def _can_move(user: User, post: Post) -> bool:
    if post.status not in workflow.MOVABLE:
        return False
    return user.role == Role.ADMIN or (user.role == Role.EDITOR and post.author_id == user.id)


def calendar_entries(
    session: Session, user: User, low: datetime, high: datetime, zone: str
) -> list[Entry]:
    """The agency's posts with a time in [low, high) and the coming occurrences, by time."""
    base = (
        select(Post, Campaign)
        .join(Campaign, col(Post.campaign_id) == col(Campaign.id))
        .where(Campaign.agency_id == user.agency_id)
    )
    sent = base.where(
        Post.status == PostStatus.DISPATCHED,
        col(Post.dispatched_at) >= low,
        col(Post.dispatched_at) < high,
    )
    planned = base.where(
        col(Post.status).in_([s for s in SHOWN if s != PostStatus.DISPATCHED]),
        col(Post.scheduled_at) >= low,
        col(Post.scheduled_at) < high,
    )
    entries: list[Entry] = []
    for post, campaign in [*session.exec(sent).all(), *session.exec(planned).all()]:
        moment = post.dispatched_at if post.status == PostStatus.DISPATCHED else post.scheduled_at
        assert moment is not None
        entries.append(
            Entry(
                moment=_utc(moment),
                title=f"{campaign.title}: {post.master_text}",
                url=f"/console/posts/{post.id}",
                status=post.status,
                post_id=post.id,
                movable=_can_move(user, post),
                local_value=local_input(moment, zone),
            )
        )
    entries.extend(_coming(session, user, max(low, utcnow()), high))
    return sorted(entries, key=lambda e: (e.moment, e.title))


def _coming(session: Session, user: User, low: datetime, high: datetime) -> list[Entry]:
    """Occurrences of the agency's repeating campaigns in [low, high) not made yet."""
    rules = session.exec(
        select(CampaignRecurrence, Campaign)
        .join(Campaign, col(CampaignRecurrence.campaign_id) == col(Campaign.id))
        .where(Campaign.agency_id == user.agency_id, col(CampaignRecurrence.active).is_(True))
    ).all()
    found: list[Entry] = []
    for rule, campaign in rules:
        made = set(
            session.exec(
                select(RecurrenceOccurrence.occurrence).where(
                    RecurrenceOccurrence.recurrence_id == rule.id
                )
            ).all()
        )
        try:
            moments = recurrence.occurrences(rule, low, high)
        except GaungError:
            continue
        for moment in moments:
            if moment >= high or moment <= _utc(campaign.starts_at):
                continue
            if recurrence.occurrence_key(moment) in made:
                continue
            found.append(
                Entry(
                    moment=moment,
                    title=campaign.title,
                    url=f"/console/campaigns/{campaign.id}/repeat",
                    status="planned",
                )
            )
    return found


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def calendar_page(
    request: Request,
    session: Session,
    user: User,
    view: str,
    day: str | None,
    *,
    error: GaungError | None = None,
) -> Response:
    zone = staff_zone(session, user)
    where = i18n.zone(zone)
    view = view if view in VIEWS else "month"
    today = i18n.local_time(utcnow(), zone).date()
    anchor = _anchor(day, today)
    first, last = _span(view, anchor)
    low = datetime.combine(first, time(0), tzinfo=where).astimezone(UTC)
    high = datetime.combine(last + timedelta(days=1), time(0), tzinfo=where).astimezone(UTC)
    by_day: dict[date, list[Entry]] = {}
    for entry in calendar_entries(session, user, low, high, zone):
        by_day.setdefault(i18n.local_time(entry.moment, zone).date(), []).append(entry)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    previous, following = _neighbours(view, anchor)
    short_names = get_day_names("abbreviated", locale=i18n.get_locale())
    if view == "week":
        heading = _("Week of %(day)s") % {"day": i18n.format_date(first, "long")}
    else:
        heading = i18n.format_date(anchor.replace(day=1), "LLLL y")
    context: dict[str, Any] = {
        "view": view,
        "anchor": anchor,
        "today": today,
        "days": days,
        "weeks": [days[n : n + 7] for n in range(0, len(days), 7)],
        "by_day": by_day,
        "heading": heading,
        "previous": previous.isoformat(),
        "following": following.isoformat(),
        "day_names": [short_names[n] for n in range(7)],  # Monday first, like the grid
        "zone_label": i18n.zone_label(zone),
        "error": error.render(_) if error else None,
        "error_field": None,
    }
    return page(request, "calendar.html", context, status_code=400 if error else 200)


@router.get("/calendar")
def calendar_view(
    request: Request,
    view: str = "month",
    day: str | None = None,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    return calendar_page(request, session, user, view, day)


@router.post("/posts/{post_id}/move")
async def move_post(
    request: Request,
    post_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    """Move a draft to another time (typed in the staff's zone); back to the calendar."""
    form = await request.form()
    view = str(form.get("view") or "month")
    day = str(form.get("day") or "") or None
    post = workflow.get_post(session, user, post_id)
    zone = staff_zone(session, user)
    try:
        moment = parse_local(str(form.get("scheduled_at") or ""), "scheduled_at", zone)
        if moment is None:
            raise GaungError(N_("Enter the new date and time."), field="scheduled_at")
        workflow.move_post(session, user, post, moment)
    except NotFoundError:
        raise
    except GaungError as err:
        session.rollback()
        response = calendar_page(request, session, user, view, day, error=err)
        if isinstance(err, ForbiddenError):
            response.status_code = 403
        return response
    flash(
        request,
        _("Moved to %(time)s.") % {"time": i18n.format_datetime(moment, "medium", zone)},
    )
    target = f"/console/calendar?view={view if view in VIEWS else 'month'}"
    if day:
        target += f"&day={_anchor(day, date.today()).isoformat()}"
    return see_other(target)


# --- recurring campaigns --------------------------------------------------------------


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.lstrip("-").isdigit() and len(value) < 6 else None


def repeat_values(form: FormData) -> dict[str, Any]:
    return {
        "frequency": str(form.get("frequency") or "weekly"),
        "interval": str(form.get("interval") or "1"),
        "weekdays": [str(d) for d in form.getlist("weekdays")],
        "monthly_by": str(form.get("monthly_by") or "day"),
        "month_day": str(form.get("month_day") or ""),
        "nth": str(form.get("nth") or "1"),
        "nth_weekday": str(form.get("nth_weekday") or "MO"),
        "at": str(form.get("at") or ""),
        "starts_on": str(form.get("starts_on") or ""),
        "end": str(form.get("end") or "never"),
        "until": str(form.get("until") or ""),
        "count": str(form.get("count") or ""),
    }


def _date(value: str, field: str, required: bool = False) -> date | None:
    value = value.strip()
    if not value:
        if required:
            raise GaungError(N_("This field is required."), field=field)
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise GaungError(N_("Enter a valid date."), field=field) from None


def _time(value: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise GaungError(N_("Enter a valid time, e.g. 09:00."), field="at") from None


def rule_from_form(values: dict[str, Any]) -> tuple[str, date, time]:
    """The RRULE, first date and time of day the form describes; GaungError names the field."""
    starts_on = _date(values["starts_on"], "starts_on", required=True)
    assert starts_on is not None
    at = _time(values["at"])
    interval = _int(values["interval"])
    if interval is None:
        raise GaungError(N_("Enter a whole number."), field="interval")
    until = _date(values["until"], "until") if values["end"] == "until" else None
    if values["end"] == "until" and until is None:
        raise GaungError(N_("Enter the end date."), field="until")
    count = _int(values["count"]) if values["end"] == "count" else None
    if values["end"] == "count" and count is None:
        raise GaungError(N_("Enter a whole number."), field="count")
    month_day = _int(values["month_day"]) if values["monthly_by"] == "day" else None
    rule = recurrence.build_rule(
        frequency=values["frequency"],
        interval=interval,
        weekdays=values["weekdays"],
        monthly_by=values["monthly_by"],
        month_day=month_day,
        nth=_int(values["nth"]),
        nth_weekday=values["nth_weekday"],
        until=until,
        count=count,
        starts_on=starts_on,
    )
    return rule, starts_on, at


def stored_repeat_values(rule: CampaignRecurrence) -> dict[str, Any]:
    """Form values of a stored rule (the ones the form can make)."""
    parts = recurrence.rule_parts(rule.rule)
    local = i18n.local_time(rule.first_at, rule.timezone)
    days = [d for d in parts.get("BYDAY", "").split(",") if d]
    monthly_weekday = parts.get("FREQ") == "MONTHLY" and bool(days)
    nth = days[0][:-2] if monthly_weekday else "1"
    until = parts.get("UNTIL", "")
    return {
        "frequency": parts.get("FREQ", "WEEKLY").lower(),
        "interval": parts.get("INTERVAL", "1"),
        "weekdays": days if not monthly_weekday else [],
        "monthly_by": "weekday" if monthly_weekday else "day",
        "month_day": parts.get("BYMONTHDAY", ""),
        "nth": nth.lstrip("+") or "1",
        "nth_weekday": days[0][-2:] if monthly_weekday else "MO",
        "at": f"{local:%H:%M}",
        "starts_on": local.date().isoformat(),
        "end": "until" if until else "count" if "COUNT" in parts else "never",
        "until": f"{until[:4]}-{until[4:6]}-{until[6:8]}" if len(until) >= 8 else "",
        "count": parts.get("COUNT", ""),
    }


def default_repeat_values(campaign: Campaign, zone: str) -> dict[str, Any]:
    """A weekly rule on the campaign's weekday and time, from a week after its start."""
    local = i18n.local_time(campaign.starts_at, zone)
    return {
        "frequency": "weekly",
        "interval": "1",
        "weekdays": [recurrence.WEEKDAYS[local.weekday()]],
        "monthly_by": "day",
        "month_day": str(local.day),
        "nth": "1",
        "nth_weekday": recurrence.WEEKDAYS[local.weekday()],
        "at": f"{local:%H:%M}",
        "starts_on": (local.date() + timedelta(days=7)).isoformat(),
        "end": "never",
        "until": "",
        "count": "",
    }


def weekday_labels() -> list[tuple[str, str]]:
    names = get_day_names("wide", locale=i18n.get_locale())
    return [(code, names[n]) for n, code in enumerate(recurrence.WEEKDAYS)]


def repeat_page(
    request: Request,
    session: Session,
    user: User,
    campaign: Campaign,
    values: dict[str, Any] | None = None,
    error: GaungError | None = None,
) -> Response:
    zone = staff_zone(session, user)
    rule = recurrence.get_recurrence(session, campaign)
    if values is None:
        values = (
            stored_repeat_values(rule)
            if rule is not None
            else default_repeat_values(campaign, zone)
        )
    made: list[tuple[datetime, Campaign | None]] = []
    if rule is not None:
        rows = session.exec(
            select(RecurrenceOccurrence)
            .where(RecurrenceOccurrence.recurrence_id == rule.id)
            .order_by(col(RecurrenceOccurrence.occurrence))
        ).all()
        made = [
            (
                datetime.strptime(row.occurrence, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC),
                session.get(Campaign, row.campaign_id) if row.campaign_id else None,
            )
            for row in rows
        ]
    coming: list[datetime] = []
    if rule is not None and rule.active:
        try:
            coming = recurrence.upcoming(rule, utcnow(), limit=5)
        except GaungError:
            coming = []
    context: dict[str, Any] = {
        "campaign": campaign,
        "rule": rule,
        "rfc5545": recurrence.rfc5545(rule) if rule is not None else "",
        "coming": coming,
        "made": made,
        "values": values,
        "weekday_labels": weekday_labels(),
        "nth_labels": [
            ("1", _("First")),
            ("2", _("Second")),
            ("3", _("Third")),
            ("4", _("Fourth")),
            ("-1", _("Last")),
        ],
        "lookahead_days": recurrence.LOOKAHEAD.days,
        "can_change": user.role in (Role.EDITOR, Role.ADMIN),
        "zone_label": i18n.zone_label(zone),
        "error": error.render(_) if error else None,
        "error_field": shown_field(error, REPEAT_FIELDS),
    }
    return page(request, "repeat.html", context, status_code=400 if error else 200)


@router.get("/campaigns/{campaign_id}/repeat")
def repeat_form(
    request: Request,
    campaign_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    return repeat_page(request, session, user, campaign)


@router.post("/campaigns/{campaign_id}/repeat")
async def set_repeat(
    request: Request,
    campaign_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    values = repeat_values(await request.form())
    zone = staff_zone(session, user)
    try:
        rule, starts_on, at = rule_from_form(values)
        recurrence.set_recurrence(
            session,
            user,
            campaign,
            rule=rule,
            first_at=recurrence.first_moment(starts_on, at, zone),
            timezone=i18n.zone(zone).key,
        )
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        session.rollback()
        return repeat_page(request, session, user, campaign, values, err)
    flash(request, _("The campaign now repeats. Each time comes as a draft to approve."))
    return see_other(f"/console/campaigns/{campaign_id}/repeat")


@router.post("/campaigns/{campaign_id}/repeat/stop")
async def stop_repeat(
    request: Request,
    campaign_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    try:
        recurrence.stop_recurrence(session, user, campaign)
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        session.rollback()
        return repeat_page(request, session, user, campaign, error=err)
    flash(request, _("The campaign no longer repeats. Drafts already made stay."))
    return see_other(f"/console/campaigns/{campaign_id}/repeat")
