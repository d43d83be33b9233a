"""Supervisor dashboard: reach per campaign, per platform and per unit, who reposted, CSV.

Staff read only their own agency's campaigns; another agency's campaign answers
404, like a missing one. The figures come from assignments.reach; this module
only lays them out, including a server-rendered SVG chart (no external scripts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session, col, func, select

from assignments.reach import (
    CampaignReach,
    TimelinePoint,
    campaign_reach,
    campaign_totals,
    reach_csv,
)
from assignments.reporting import PLATFORM_NAMES
from content.models import Campaign
from gaung.db import get_session
from gaung.errors import NotFoundError
from roster.models import Role, User
from web.deps import render, require_role
from web.inbox import status_label

router = APIRouter(prefix="/dashboard", include_in_schema=False)
reader = require_role(Role.SUPERVISOR, Role.APPROVER, Role.EDITOR)  # admin is always allowed

PAGE_SIZE = 20
# SVG geometry, in viewBox units; the chart scales to the page width.
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 600, 160, 10


@dataclass(frozen=True)
class ChartSeries:
    """A cumulative step line: ``points`` is an SVG polyline ``points`` attribute."""

    points: str
    total: int


@dataclass(frozen=True)
class Chart:
    start: datetime
    end: datetime
    reposts: ChartSeries
    clicks: ChartSeries


def _x(moment: datetime, start: datetime, end: datetime) -> float:
    span = (end - start).total_seconds()
    inner = CHART_WIDTH - 2 * CHART_PAD
    return round(CHART_PAD + (moment - start).total_seconds() / span * inner, 1)


def _y(value: int, peak: int) -> float:
    inner = CHART_HEIGHT - 2 * CHART_PAD
    return round(CHART_HEIGHT - CHART_PAD - value / max(peak, 1) * inner, 1)


def cumulative_series(
    timeline: list[TimelinePoint], counts: list[int], start: datetime, end: datetime
) -> ChartSeries:
    """Running total as a step line, scaled so its final total touches the top."""
    peak = sum(counts)
    coords = [(_x(start, start, end), _y(0, peak))]
    running = 0
    for point, count in zip(timeline, counts, strict=True):
        if not count:
            continue
        x = _x(point.bucket, start, end)
        coords.append((x, _y(running, peak)))
        running += count
        coords.append((x, _y(running, peak)))
    coords.append((_x(end, start, end), _y(running, peak)))
    return ChartSeries(points=" ".join(f"{x},{y}" for x, y in coords), total=running)


def timeline_chart(timeline: list[TimelinePoint]) -> Chart | None:
    """Reposts and clicks over time, or None when nothing has happened yet."""
    if not timeline:
        return None
    start = timeline[0].bucket
    end = timeline[-1].bucket + timedelta(hours=1)  # a bucket covers its whole hour
    return Chart(
        start=start,
        end=end,
        reposts=cumulative_series(timeline, [p.reposts for p in timeline], start, end),
        clicks=cumulative_series(timeline, [p.clicks for p in timeline], start, end),
    )


def own_campaign(session: Session, user: User, campaign_id: int) -> Campaign:
    """The campaign if it belongs to the reader's agency; otherwise not found."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.agency_id != user.agency_id:
        raise NotFoundError("Campaign not found.")
    return campaign


@router.get("")
def campaign_list(
    request: Request,
    page: int = 1,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    page = max(page, 1)
    mine = Campaign.agency_id == user.agency_id
    count = session.exec(select(func.count()).select_from(Campaign).where(mine)).one()
    query = (
        select(Campaign)
        .where(mine)
        .order_by(col(Campaign.starts_at).desc(), col(Campaign.id).desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    campaigns = list(session.exec(query))
    totals = campaign_totals(session, [_id(c) for c in campaigns])
    rows = [(c, totals[_id(c)]) for c in campaigns]
    context = {
        "rows": rows,
        "page": page,
        "has_next": page * PAGE_SIZE < count,
    }
    return render(request, "dashboard/list.html", context)


def _id(campaign: Campaign) -> int:
    assert campaign.id is not None
    return campaign.id


@router.get("/campaigns/{campaign_id:int}.csv")
def campaign_csv(
    campaign_id: int, user: User = Depends(reader), session: Session = Depends(get_session)
) -> Response:
    own_campaign(session, user, campaign_id)
    body = reach_csv(campaign_reach(session, campaign_id))
    filename = f"gaung-campaign-{campaign_id}-reach.csv"
    return Response(
        content=body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/campaigns/{campaign_id:int}")
def campaign_page(
    request: Request,
    campaign_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    campaign = own_campaign(session, user, campaign_id)
    reach: CampaignReach = campaign_reach(session, campaign_id)
    context = {
        "campaign": campaign,
        "reach": reach,
        "chart": timeline_chart(reach.timeline),
        "chart_size": (CHART_WIDTH, CHART_HEIGHT, CHART_PAD),
        "platform_names": PLATFORM_NAMES,
        "status_label": status_label,
    }
    return render(request, "dashboard/campaign.html", context)
