"""Which week a weekly report covers, and which campaigns belong to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from assignments.reach_snapshot import dashboard_reach
from assignments.weekly_report import week_before, week_campaigns, weekly_figures
from content.models import Campaign, PostStatus
from roster.models import Agency
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

ZONES = [ZoneInfo(z) for z in ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "UTC")]
WIB = ZoneInfo("Asia/Jakarta")


@given(
    moment=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
)
def test_the_week_is_the_last_whole_monday_to_monday_before_the_moment(
    moment: datetime, zone: ZoneInfo
) -> None:
    week = week_before(moment, zone)

    assert week.start.weekday() == 0
    assert (week.start.hour, week.start.minute, week.start.second) == (0, 0, 0)
    assert week.start.tzinfo == zone
    assert week.end - week.start == timedelta(days=7)
    assert week.end <= moment < week.end + timedelta(days=7)
    year, number, _day = week.start.isocalendar()
    assert week.iso == f"{year}-W{number:02d}"


def test_the_monday_run_reports_the_week_that_just_ended_in_every_indonesian_zone() -> None:
    monday = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # 07:00 WIB, 08:00 WITA, 09:00 WIT

    for zone in ZONES[:3]:
        week = week_before(monday, zone)
        assert week.start == datetime(2026, 11, 30, tzinfo=zone)
        assert week.iso == "2026-W49"


def _campaign(
    session: Session, agency: Agency, starts: datetime, deadline: datetime, dispatched: datetime
) -> Campaign:
    author = make_user(session, agency)
    campaign = make_campaign(session, agency, author)
    campaign.starts_at, campaign.deadline = starts, deadline
    session.add(campaign)
    post = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
    row = make_assignment(session, post, make_asn(session, make_unit(session, agency)))
    row.created_at = dispatched
    session.add(row)
    session.commit()
    return campaign


def test_the_weeks_campaigns_were_dispatched_before_it_ended_and_due_after_it_began(
    session: Session,
) -> None:
    agency = make_agency(session)
    week = week_before(datetime(2026, 12, 7, tzinfo=UTC), WIB)
    start, end = week.start, week.end
    day = timedelta(days=1)
    during = _campaign(session, agency, start + day, start + 2 * day, start + day)
    ran_into = _campaign(session, agency, start - 3 * day, start, start - 3 * day)
    ran_through = _campaign(session, agency, start - day, end + day, start - day)
    _campaign(session, agency, start - 3 * day, start - timedelta(minutes=1), start - 3 * day)
    _campaign(session, agency, end - day, end + day, end)  # dispatched as the week ended
    make_campaign(session, agency)  # never dispatched
    elsewhere = make_agency(session)
    _campaign(session, elsewhere, start + day, start + 2 * day, start + day)

    found = week_campaigns(session, agency.id or 0, week)

    assert [c.id for c in found] == [ran_into.id, ran_through.id, during.id]


def test_the_weeks_total_is_the_sum_of_the_dashboards_campaign_totals(session: Session) -> None:
    agency = make_agency(session)
    week = week_before(datetime(2026, 12, 7, tzinfo=UTC), WIB)
    day = timedelta(days=1)
    first = _campaign(session, agency, week.start + day, week.end, week.start + day)
    second = _campaign(session, agency, week.start + 2 * day, week.end, week.start + 2 * day)

    figures = weekly_figures(session, agency.id or 0, week)

    shown = [dashboard_reach(session, c.id or 0).total for c in (first, second)]
    assert [reach.total for _c, reach in figures.campaigns] == shown
    assert figures.total.assignments == sum(f.assignments for f in shown) == 2
    assert figures.headline.assignments == 2
