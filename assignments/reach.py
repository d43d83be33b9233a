"""Reach of a campaign: completion, potential reach, clicks, timeline and reposters.

Everything comes from a handful of aggregate queries (GROUP BY in the database);
Python only folds the few (platform, unit) groups into totals. Reach is
"potential": the followers an account had when its repost was reported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from assignments.models import Assignment, AssignmentStatus, Click
from content.models import Campaign
from gaung.errors import N_, NotFoundError
from gaung.i18n import format_number, format_ratio
from gaung.i18n import gettext as _
from gaung.settings import PLATFORMS
from roster.models import Asn, SocialAccount, Unit

MISSING = "—"  # shown for an ASN who left (their assignment keeps no link to them)
_REPOSTED = (AssignmentStatus.REPORTED, AssignmentStatus.VERIFIED)

CSV_COLUMNS = (
    "asn_name",
    "unit",
    "platform",
    "handle",
    "followers_at_report",
    "repost_url",
    "reported_at",
    "status",
)


@dataclass
class ReachFigures:
    assignments: int = 0
    reported: int = 0  # REPORTED + VERIFIED
    verified: int = 0
    declined: int = 0
    potential_reach: int = 0  # followers at report time of reported + verified reposts
    clicks: int = 0

    @property
    def completion_rate(self) -> float:
        return self.reported / self.assignments if self.assignments else 0.0

    def add(self, other: ReachFigures) -> None:
        self.assignments += other.assignments
        self.reported += other.reported
        self.verified += other.verified
        self.declined += other.declined
        self.potential_reach += other.potential_reach
        self.clicks += other.clicks


class TimelinePoint(NamedTuple):
    bucket: datetime  # start of the hour, aware UTC
    reposts: int
    clicks: int


@dataclass(frozen=True)
class Reposter:
    asn_name: str
    unit: str
    platform: str
    handle: str
    followers: int | None
    repost_url: str | None
    reported_at: datetime | None
    status: str


@dataclass
class CampaignReach:
    campaign_id: int
    total: ReachFigures = field(default_factory=ReachFigures)
    by_platform: dict[str, ReachFigures] = field(default_factory=dict)
    by_unit: dict[str, ReachFigures] = field(default_factory=dict)  # keyed by unit name
    timeline: list[TimelinePoint] = field(default_factory=list)
    reposters: list[Reposter] = field(default_factory=list)


def campaign_reach(session: Session, campaign_id: int) -> CampaignReach:
    if session.get(Campaign, campaign_id) is None:
        raise NotFoundError(N_("Campaign not found."))
    reach = CampaignReach(campaign_id=campaign_id)
    groups = _group_figures(session, campaign_id)
    for (platform, _unit_id, unit_name), figures in sorted(groups.items(), key=_group_order):
        reach.total.add(figures)
        reach.by_platform.setdefault(platform, ReachFigures()).add(figures)
        reach.by_unit.setdefault(unit_name, ReachFigures()).add(figures)
    reach.by_unit = dict(sorted(reach.by_unit.items()))
    reach.timeline = _timeline(session, campaign_id)
    reach.reposters = _reposters(session, campaign_id)
    return reach


_Group = tuple[str, int, str]  # (platform, unit id, unit name)


def _group_order(item: tuple[_Group, ReachFigures]) -> tuple[int, str]:
    platform = item[0][0]
    rank = PLATFORMS.index(platform) if platform in PLATFORMS else len(PLATFORMS)
    return rank, platform


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _figure_columns() -> list[Any]:
    """Aggregates of one group of assignments, in ReachFigures field order (without clicks)."""
    reposted = col(Assignment.status).in_(_REPOSTED)
    return [
        func.count(col(Assignment.id)),
        _count_if(reposted),
        _count_if(col(Assignment.status) == AssignmentStatus.VERIFIED),
        _count_if(col(Assignment.status) == AssignmentStatus.DECLINED),
        func.coalesce(func.sum(case((reposted, col(Assignment.followers_at_report)), else_=0)), 0),
    ]


def _figures(row: Sequence[Any]) -> ReachFigures:
    return ReachFigures(*(int(value) for value in row))


def campaign_totals(session: Session, campaign_ids: Sequence[int]) -> dict[int, ReachFigures]:
    """Whole-campaign figures for many campaigns at once (lists): two GROUP BY queries."""
    if not campaign_ids:
        return {}
    campaign = col(Assignment.campaign_id)
    counts = (
        sa_select(campaign, *_figure_columns()).where(campaign.in_(campaign_ids)).group_by(campaign)
    )
    totals = {int(row[0]): _figures(row[1:]) for row in session.connection().execute(counts)}
    clicks = (
        sa_select(col(Click.campaign_id), func.count(col(Click.id)))
        .where(col(Click.campaign_id).in_(campaign_ids))
        .group_by(col(Click.campaign_id))
    )
    for campaign_id, count in session.connection().execute(clicks):
        totals.setdefault(int(campaign_id), ReachFigures()).clicks = int(count)
    return {cid: totals.get(cid, ReachFigures()) for cid in campaign_ids}


def _group_figures(session: Session, campaign_id: int) -> dict[_Group, ReachFigures]:
    """Assignment and click counts per (platform, unit): two GROUP BY queries."""
    group = (col(Assignment.platform), col(Assignment.unit_id), col(Unit.name))
    counts = (
        sa_select(*group, *_figure_columns())
        .join(Unit, col(Unit.id) == col(Assignment.unit_id))
        .where(col(Assignment.campaign_id) == campaign_id)
        .group_by(*group)
    )
    groups: dict[_Group, ReachFigures] = {}
    for row in session.connection().execute(counts):
        groups[(row[0], row[1], row[2])] = _figures(row[3:])
    clicks = (
        select(Assignment.platform, Assignment.unit_id, Unit.name, func.count(col(Click.id)))
        .join(Assignment, col(Assignment.id) == col(Click.assignment_id))
        .join(Unit, col(Unit.id) == col(Assignment.unit_id))
        .where(Click.campaign_id == campaign_id)
        .group_by(col(Assignment.platform), col(Assignment.unit_id), col(Unit.name))
    )
    for platform, unit_id, unit_name, count in session.exec(clicks):
        groups.setdefault((platform, unit_id, unit_name), ReachFigures()).clicks = int(count)
    return groups


def _hour_bucket(session: Session, column: Any) -> Any:
    """The hour a UTC timestamp falls in, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        # timestamptz truncates in the session time zone: convert to UTC first.
        return func.date_trunc("hour", func.timezone("UTC", column))
    # SQLite stores UTC as "YYYY-MM-DD HH:MM:SS.ffffff" text.
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _as_utc(bucket: datetime | str) -> datetime:
    value = datetime.fromisoformat(bucket) if isinstance(bucket, str) else bucket
    return value.replace(tzinfo=UTC)


def _hourly(session: Session, column: Any, *where: Any) -> dict[datetime, int]:
    bucket = _hour_bucket(session, column).label("bucket")
    query = select(bucket, func.count()).where(*where).group_by(bucket)
    return {_as_utc(b): int(n) for b, n in session.exec(query)}


def _timeline(session: Session, campaign_id: int) -> list[TimelinePoint]:
    """Reposts and clicks per hour with activity, oldest first."""
    reposts = _hourly(
        session,
        col(Assignment.reported_at),
        Assignment.campaign_id == campaign_id,
        col(Assignment.status).in_(_REPOSTED),
        col(Assignment.reported_at).is_not(None),
    )
    clicks = _hourly(session, col(Click.at), Click.campaign_id == campaign_id)
    return [
        TimelinePoint(hour, reposts.get(hour, 0), clicks.get(hour, 0))
        for hour in sorted(reposts.keys() | clicks.keys())
    ]


def _reposters(session: Session, campaign_id: int) -> list[Reposter]:
    query = (
        sa_select(
            col(Assignment.asn_id),
            col(Asn.name),
            col(Unit.name),
            col(Assignment.platform),
            col(SocialAccount.handle),
            col(Assignment.followers_at_report),
            col(Assignment.repost_url),
            col(Assignment.reported_at),
            col(Assignment.status),
        )
        .select_from(Assignment)
        .join(Unit, col(Unit.id) == col(Assignment.unit_id))
        .outerjoin(Asn, col(Asn.id) == col(Assignment.asn_id))
        .outerjoin(SocialAccount, col(SocialAccount.id) == col(Assignment.account_id))
        .where(col(Assignment.campaign_id) == campaign_id, col(Assignment.status).in_(_REPOSTED))
        .order_by(col(Assignment.reported_at), col(Assignment.id))
    )
    return [
        Reposter(
            asn_name=name if asn_id is not None and name else MISSING,
            unit=unit,
            platform=platform,
            handle=handle if asn_id is not None and handle else MISSING,
            followers=followers,
            repost_url=url,
            reported_at=reported_at,
            status=status,
        )
        for asn_id, name, unit, platform, handle, followers, url, reported_at, status in (
            session.connection().execute(query)
        )
    ]


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def reach_csv(reach: CampaignReach) -> str:
    """One row per reposter, with an English snake_case header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in reach.reposters:
        reported = r.reported_at.astimezone(UTC).isoformat() if r.reported_at else None
        row = (r.asn_name, r.unit, r.platform, r.handle, r.followers, r.repost_url, reported)
        writer.writerow([_cell(v) for v in (*row, r.status)])
    return out.getvalue()


def summary_columns() -> tuple[str, ...]:
    """Column titles for summary_rows, in the reader's language."""
    return (
        _("Scope"),
        _("Name"),
        _("Assignments"),
        _("Reported"),
        _("Verified"),
        _("Declined"),
        _("Completion"),
        _("Potential reach"),
        _("Clicks"),
    )


def summary_rows(reach: CampaignReach) -> list[tuple[str, ...]]:
    """The whole campaign, then each platform, then each unit, formatted for a CLI table."""
    rows = [_summary_row(_("Campaign total"), "", reach.total)]
    rows += [_summary_row(_("By platform"), p, f) for p, f in reach.by_platform.items()]
    rows += [_summary_row(_("By unit"), u, f) for u, f in reach.by_unit.items()]
    return rows


def _summary_row(scope: str, name: str, f: ReachFigures) -> tuple[str, ...]:
    return (
        scope,
        name,
        format_number(f.assignments),
        format_number(f.reported),
        format_number(f.verified),
        format_number(f.declined),
        format_ratio(f.completion_rate),
        format_number(f.potential_reach),
        format_number(f.clicks),
    )
