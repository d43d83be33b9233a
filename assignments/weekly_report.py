"""The figures of an agency's week, for the weekly report e-mail (scheduler.weekly_report).

A week is Monday 00:00 to Monday 00:00 in the agency's zone. Its campaigns are those that
were dispatched and active during it: at least one assignment created before the week
ended, and a deadline not before it began. Each campaign's figures are the dashboard's
(``reach_snapshot.dashboard_reach``: live, or a big campaign's snapshot) as they stand when
the report is made, and the week's headline is ``reach.headline`` of their sum, so the mail
shows what the dashboard shows. The attachment is the dashboard's XLSX
(``reach_export``) over all of them: one totals sheet and one sheet of every assignment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists
from sqlmodel import Session, col, select

from assignments.models import Assignment
from assignments.reach import CampaignReach, Headline, ReachFigures, headline
from assignments.reach_export import reach_xlsx_many
from assignments.reach_snapshot import dashboard_reach
from assignments.reposters import AssignmentRow, iter_assignments
from content.models import Campaign

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Week:
    """[start, end) in the agency's zone (aware datetimes) and its ISO name, e.g. 2026-W49."""

    start: datetime
    end: datetime

    @property
    def iso(self) -> str:
        year, week, _day = self.start.isocalendar()
        return f"{year}-W{week:02d}"


def week_before(moment: datetime, zone: ZoneInfo) -> Week:
    """The last whole week (Monday to Monday in ``zone``) that ended at or before ``moment``."""
    here = moment.astimezone(zone)
    monday = (here - timedelta(days=here.weekday())).date()
    end = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    start_day = monday - WEEK
    return Week(datetime(start_day.year, start_day.month, start_day.day, tzinfo=zone), end)


@dataclass
class WeeklyFigures:
    week: Week
    campaigns: list[tuple[Campaign, CampaignReach]] = field(default_factory=list)
    total: ReachFigures = field(default_factory=ReachFigures)

    @property
    def headline(self) -> Headline:
        return headline(self.total)


def week_campaigns(session: Session, agency_id: int, week: Week) -> list[Campaign]:
    """The agency's campaigns dispatched and active during the week, oldest start first."""
    dispatched = exists().where(
        col(Assignment.campaign_id) == col(Campaign.id),
        col(Assignment.created_at) < week.end.astimezone(UTC),
    )
    query = (
        select(Campaign)
        .where(
            col(Campaign.agency_id) == agency_id,
            col(Campaign.deadline) >= week.start.astimezone(UTC),
            dispatched,
        )
        .order_by(col(Campaign.starts_at), col(Campaign.id))
    )
    return list(session.exec(query))


def weekly_figures(session: Session, agency_id: int, week: Week) -> WeeklyFigures:
    """Each of the week's campaigns with the dashboard's figures, and their sum."""
    figures = WeeklyFigures(week)
    for campaign in week_campaigns(session, agency_id, week):
        assert campaign.id is not None
        reach = dashboard_reach(session, campaign.id)
        figures.campaigns.append((campaign, reach))
        figures.total.add(reach.total)
    return figures


def weekly_xlsx(session: Session, figures: WeeklyFigures, zone: ZoneInfo, zone_label: str) -> bytes:
    """The dashboard's workbook over the week's campaigns: all totals, then every assignment."""

    def rows(campaign_id: int) -> Iterator[AssignmentRow]:
        return iter_assignments(session, campaign_id)

    campaigns = [(c.title, reach, rows(reach.campaign_id)) for c, reach in figures.campaigns]
    return reach_xlsx_many(campaigns, figures.total, zone, zone_label)
