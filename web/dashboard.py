"""Supervisor dashboard: reach per campaign, per platform and per unit, who reposted, CSV, XLSX.

Staff read only their own agency's campaigns; another agency's campaign answers
404, like a missing one. Each post and each unit of a campaign has its own page (drill-down),
scoped the same way. The headline figures are ``assignments.reach.Headline`` (as in
``gaung report``). The figures come from assignments.reach_snapshot (live,
or a big campaign's snapshot, which the page dates); this module only lays them
out, including server-rendered SVG charts (no external scripts, nothing inline).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session, col, func, select

from assignments import problems, reach_snapshot
from assignments.metrics import SPANS
from assignments.reach import (
    CampaignReach,
    ReachFigures,
    TimelinePoint,
    WindowPoint,
    drill_down,
    headline,
    unit_people,
)
from assignments.reach_export import assignments_csv_lines, reach_xlsx, summary_csv
from assignments.reach_snapshot import campaign_totals, dashboard_reach
from assignments.reposters import iter_assignments
from assignments.variant_figures import VariantFigures
from content import variants, workflow
from content.models import Campaign, Post
from content.rendering import platform_texts
from gaung.db import get_engine, get_session
from gaung.errors import N_, NotFoundError
from gaung.i18n import format_number
from gaung.i18n import gettext as _
from gaung.settings import PLATFORM_NAMES
from roster.agencies import zone_label, zone_of
from roster.models import Agency, Role, Unit, User
from scheduler import reach_snapshots
from web import notify_view
from web.deps import render, require_role
from web.inbox import status_label

router = APIRouter(prefix="/dashboard", include_in_schema=False)
reader = require_role(Role.SUPERVISOR, Role.APPROVER, Role.EDITOR)  # admin is always allowed

PAGE_SIZE = 20
PEOPLE_SHOWN = 500  # rows of a unit's people on its page; the assignments CSV has everyone
# SVG geometry, in viewBox units; the charts scale to the page width.
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 600, 160, 10
BAR_ROW, BAR_LABEL = 26, 110  # verification chart: row height, room for the platform name
COLOURS = {
    "verified": "#17703a",
    "unverified": "#1f5fa8",
    "unverifiable": "#8fb3dc",
    "rejected": "#b3261e",
    "open": "#c5cad1",
    "impressions": "#1f5fa8",
}


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


@dataclass(frozen=True)
class Rect:
    """One SVG bar (viewBox units) with what it stands for."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class BarChart:
    height: int
    bars: list[Rect]
    labels: list[tuple[float, float, str]]  # (x, y, text) drawn as <text>


def _segments(figures: ReachFigures) -> list[tuple[str, int, str]]:
    """(colour key, count, legend) of one platform's assignments, summing to all of them.

    Reports still open are split: those awaiting a check, and those no check can reach
    (Facebook, personal Instagram accounts).
    """
    unverifiable = min(figures.unverifiable, figures.reported - figures.verified)
    unverified = figures.reported - figures.verified - unverifiable
    rest = figures.assignments - figures.reported - figures.rejected
    return [
        ("verified", figures.verified, _("Verified")),
        ("unverified", unverified, _("Reported, not verified")),
        ("unverifiable", unverifiable, _("Reported, not verifiable")),
        ("rejected", figures.rejected, _("Rejected by verification")),
        ("open", rest, _("Pending, declined, expired or withdrawn")),
    ]


def verification_chart(by_platform: dict[str, ReachFigures]) -> BarChart | None:
    """One stacked bar per platform: how its assignments ended up (shares of all)."""
    rows = [(p, f) for p, f in by_platform.items() if f.assignments]
    if not rows:
        return None
    inner = CHART_WIDTH - BAR_LABEL - CHART_PAD
    bars: list[Rect] = []
    labels: list[tuple[float, float, str]] = []
    for index, (platform, figures) in enumerate(rows):
        y = CHART_PAD + index * BAR_ROW
        labels.append((CHART_PAD, y + 16, PLATFORM_NAMES.get(platform, platform)))
        x = float(BAR_LABEL)
        for key, count, legend in _segments(figures):
            if count <= 0:
                continue
            width = round(count / figures.assignments * inner, 1)
            title = f"{legend}: {format_number(count)}"
            bars.append(Rect(round(x, 1), y, width, BAR_ROW - 6, COLOURS[key], title))
            x += width
    return BarChart(height=2 * CHART_PAD + len(rows) * BAR_ROW, bars=bars, labels=labels)


def impressions_chart(windows: list[WindowPoint]) -> BarChart | None:
    """Impressions of the measured reposts 1 h, 24 h and 72 h after posting (all platforms)."""
    totals: dict[str, int] = {}
    for point in windows:
        if point.impressions is not None:
            totals[point.window] = totals.get(point.window, 0) + point.impressions
    if not totals:
        return None
    peak = max(max(totals.values()), 1)
    slot = (CHART_WIDTH - 2 * CHART_PAD) / len(SPANS)
    inner = CHART_HEIGHT - 2 * CHART_PAD - 16  # room for the window label below
    bars: list[Rect] = []
    labels: list[tuple[float, float, str]] = []
    for index, window in enumerate(SPANS):
        x = CHART_PAD + index * slot + slot * 0.2
        labels.append((round(x, 1), CHART_HEIGHT - CHART_PAD, window))
        value = totals.get(window)
        if value is None:
            continue
        height = round(value / peak * inner, 1)
        y = round(CHART_HEIGHT - CHART_PAD - 16 - height, 1)
        title = f"{window}: {format_number(value)}"
        bars.append(
            Rect(round(x, 1), y, round(slot * 0.6, 1), height, COLOURS["impressions"], title)
        )
        labels.append((round(x, 1), max(y - 4, 10.0), format_number(value)))
    return BarChart(height=CHART_HEIGHT, bars=bars, labels=labels)


def duration(seconds: float | None) -> str:
    """A median delay as "1 h 25 min" (translated); an em dash when there is none."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)s min") % {"minutes": minutes}


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


def _csv_response(body: Iterator[str] | str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    media_type = "text/csv; charset=utf-8"
    if isinstance(body, str):
        return Response(content=body, media_type=media_type, headers=headers)
    return StreamingResponse(body, media_type=media_type, headers=headers)


def _all_assignments_csv(campaign_id: int, agency_id: int) -> Iterator[str]:
    """Every assignment, streamed from its own session (the request's is closed by then)."""
    with Session(get_engine()) as session:
        zone = zone_of(session.get(Agency, agency_id))
        rows = iter_assignments(session, campaign_id)
        yield from assignments_csv_lines(rows, zone, zone_label(zone))


@router.get("/campaigns/{campaign_id:int}.csv")
def campaign_csv(
    campaign_id: int, user: User = Depends(reader), session: Session = Depends(get_session)
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    body = _all_assignments_csv(campaign_id, campaign.agency_id)
    return _csv_response(body, f"gaung-campaign-{campaign_id}-reach.csv")


@router.get("/campaigns/{campaign_id:int}.xlsx")
def campaign_xlsx(
    campaign_id: int, user: User = Depends(reader), session: Session = Depends(get_session)
) -> Response:
    """The dashboard's totals and every assignment as an Excel workbook (built in memory)."""
    campaign = workflow.get_campaign(session, user, campaign_id)
    zone = zone_of(session.get(Agency, campaign.agency_id))
    body = reach_xlsx(
        dashboard_reach(session, campaign_id),
        iter_assignments(session, campaign_id),
        zone,
        zone_label(zone),
    )
    filename = f"gaung-campaign-{campaign_id}-reach.xlsx"
    return Response(
        content=body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/campaigns/{campaign_id:int}/summary.csv")
def campaign_summary_csv(
    campaign_id: int, user: User = Depends(reader), session: Session = Depends(get_session)
) -> Response:
    workflow.get_campaign(session, user, campaign_id)
    body = summary_csv(dashboard_reach(session, campaign_id))
    return _csv_response(body, f"gaung-campaign-{campaign_id}-summary.csv")


def variant_rows(session: Session, figures: list[VariantFigures]) -> list[dict[str, object]]:
    """The campaign's texts compared, per post and platform that had more than one."""
    rows: list[dict[str, object]] = []
    texts: dict[tuple[int, str], dict[int, str]] = {}
    for f in figures:
        if (f.post_id, f.platform) not in texts:
            post = session.get_one(Post, f.post_id)
            own = variants.load(session, f.post_id)
            for platform in {f.platform, *own}:
                texts[(f.post_id, platform)] = dict(platform_texts(post, platform, own))
        text = texts[(f.post_id, f.platform)].get(f.variant, "")
        label = _("Alternative %(number)s") % {"number": f.variant} if f.variant else _("Main text")
        excerpt = text if len(text) <= 80 else text[:79].rstrip() + "…"
        rows.append({"f": f, "label": label, "excerpt": excerpt})
    return rows


def _refresh_if_stale(session: Session, reach: CampaignReach) -> None:
    """Queue a snapshot of a big campaign whose snapshot is missing or older than its period."""
    if reach.as_of is None:
        stale = reach.total.assignments >= reach_snapshot.LIVE_LIMIT  # computed live: no snapshot
    else:
        stale = reach_snapshots.stale(reach.as_of)
    if stale:
        reach_snapshots.schedule(session, reach.campaign_id)
        session.commit()


@router.get("/campaigns/{campaign_id:int}")
def campaign_page(
    request: Request,
    campaign_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    reach = dashboard_reach(session, campaign_id)
    _refresh_if_stale(session, reach)
    context = {
        "campaign": campaign,
        "reach": reach,
        "problems": problems.for_campaign(session, campaign_id),
        "chart": timeline_chart(reach.timeline),
        "chart_size": (CHART_WIDTH, CHART_HEIGHT, CHART_PAD),
        "verification": verification_chart(reach.by_platform),
        "impressions": impressions_chart(reach.windows),
        "legend": [(COLOURS[key], text) for key, _count, text in _segments(reach.total)],
        "platform_names": PLATFORM_NAMES,
        "status_label": status_label,
        "duration": duration,
        # (unique clickers, bot fetches): beside the clicks, from the same figures
        "visitors": (reach.unique_clickers, reach.bot_fetches),
        # Each approved text per post and platform: assignments, reposts, clicks
        "variant_rows": variant_rows(session, reach.variants),
        "headline": headline(reach.total).items(),
        "post_labels": post_labels(session, list(reach.by_post)),
        # Per post that went out: approval to 50%, 90% and the last message accepted.
        "notify_times": notify_view.campaign_times(session, campaign_id),
    }
    return render(request, "dashboard/campaign.html", context)


def post_labels(session: Session, post_ids: list[int]) -> dict[int, str]:
    """A short name per post ("#12 Hari Pahlawan: …"): posts have no title of their own."""
    if not post_ids:
        return {}
    rows = session.exec(select(Post.id, Post.master_text).where(col(Post.id).in_(post_ids)))
    labels: dict[int, str] = {}
    for post_id, text in rows:
        first = " ".join(text.split())
        excerpt = first if len(first) <= 60 else first[:59].rstrip() + "…"
        labels[int(post_id or 0)] = f"#{post_id} {excerpt}"
    return labels


@router.get("/campaigns/{campaign_id:int}/posts/{post_id:int}")
def post_page(
    request: Request,
    campaign_id: int,
    post_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    """One post of the campaign: its figures per platform and per unit (live)."""
    campaign = workflow.get_campaign(session, user, campaign_id)
    post = session.get(Post, post_id)
    if post is None or post.campaign_id != campaign_id:
        raise NotFoundError(N_("Post not found."))
    scope = drill_down(session, campaign_id, post_id=post_id)
    context = {
        "campaign": campaign,
        "post": post,
        "label": post_labels(session, [post_id]).get(post_id, f"#{post_id}"),
        "scope": scope,
        "headline": headline(scope.total).items(),
        "platform_names": PLATFORM_NAMES,
        "times_view": notify_view.times_view(session.connection(), post),
    }
    return render(request, "dashboard/post.html", context)


@router.get("/campaigns/{campaign_id:int}/units/{unit_id:int}")
def unit_page(
    request: Request,
    campaign_id: int,
    unit_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    """One unit in the campaign: its figures per post and platform, and its people (live)."""
    campaign = workflow.get_campaign(session, user, campaign_id)
    unit = session.get(Unit, unit_id)
    if unit is None or unit.agency_id != campaign.agency_id:
        raise NotFoundError(N_("Unit not found."))
    scope = drill_down(session, campaign_id, unit_id=unit_id)
    context = {
        "campaign": campaign,
        "unit": unit,
        "scope": scope,
        "headline": headline(scope.total).items(),
        "people": (people := unit_people(session, campaign_id, unit_id))[:PEOPLE_SHOWN],
        "people_total": len(people),
        "post_labels": post_labels(session, list(scope.by_post)),
        "platform_names": PLATFORM_NAMES,
    }
    return render(request, "dashboard/unit.html", context)
