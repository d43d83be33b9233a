"""Snapshots of big campaigns' reach, and which figures a page is served: snapshot or live.

A campaign with a million assignments takes seconds to aggregate, too slow for a page view, so
``scheduler.reach_snapshots`` stores the figures of big campaigns in ``reach_snapshot`` every
few minutes. ``dashboard_reach`` serves a big campaign's snapshot with its additive figures
(totals, per platform, per unit: assignments, reports, verification, declines, expiry,
withdrawal, potential reach, clicks) replaced by the live roll-ups (``assignments.rollup``),
so those are live to the second; the rest (medians, impressions and engagement, per post
figures, the timeline, reposters, unique clickers, variants) is as of the snapshot (``as_of``).
``campaign_totals`` reads the roll-ups for every campaign. Smaller campaigns are computed live
by ``assignments.reach``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Field, Session, SQLModel, col, select

from assignments.reach import (
    ApiCalls,
    CampaignReach,
    Headline,
    OfficialFigures,
    ReachFigures,
    TimelinePoint,
    WindowPoint,
    as_utc,
    campaign_reach,
    headline,
)
from assignments.reposters import Reposter
from assignments.rollup import COUNTERS, live_figures
from assignments.rollup import live_totals as rollup_totals
from assignments.variant_figures import VariantFigures
from gaung.db import utcnow
from roster.models import Unit

# Campaigns with at least this many assignments are served from their snapshot.
LIVE_LIMIT = 20_000
REPOSTERS_SHOWN = 100  # rows of "who reposted" on the page; the CSV has all of them


class ReachSnapshot(SQLModel, table=True):
    """The figures of one (big) campaign as computed by the snapshot job."""

    __tablename__ = "reach_snapshot"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    computed_at: datetime = Field(default_factory=utcnow)
    assignments: int = 0
    seconds: float = 0.0  # how long the live computation took
    payload: str = "{}"  # CampaignReach as JSON (reposters: the first page only)


# --- serving --------------------------------------------------------------------------------


def _big_snapshots(session: Session, campaign_ids: Sequence[int]) -> dict[int, CampaignReach]:
    query = select(ReachSnapshot).where(
        col(ReachSnapshot.campaign_id).in_(list(campaign_ids)),
        col(ReachSnapshot.assignments) >= LIVE_LIMIT,
    )
    return {
        s.campaign_id: from_payload(s.payload, as_utc(s.computed_at)) for s in session.exec(query)
    }


def dashboard_reach(session: Session, campaign_id: int) -> CampaignReach:
    """What the dashboard shows: a big campaign's snapshot (``as_of`` set), else live figures.

    The first page of reposters only (``REPOSTERS_SHOWN``); the CSV streams all of them.
    """
    snapshot = _big_snapshots(session, [campaign_id]).get(campaign_id)
    if snapshot is not None:
        with_live_counts(session, snapshot)
        return snapshot
    return campaign_reach(session, campaign_id, reposters_limit=REPOSTERS_SHOWN)


def _set_counts(target: ReachFigures, source: ReachFigures) -> None:
    for name in COUNTERS:
        setattr(target, name, getattr(source, name))


def with_live_counts(session: Session, reach: CampaignReach) -> None:
    """Replace the additive figures of a snapshot (total, per platform, per unit) by the live
    roll-ups; medians, impressions, engagement and ``measured`` stay as of the snapshot."""
    live = live_figures(session, reach.campaign_id)
    _set_counts(reach.total, live.total)
    for platform, figures in live.by_platform.items():
        _set_counts(reach.by_platform.setdefault(platform, ReachFigures()), figures)
    names = {unit_id: name for name, unit_id in reach.unit_ids.items()}
    missing = sorted(set(live.by_unit) - set(names))
    if missing:  # units first dispatched to after the snapshot
        query = select(Unit.id, Unit.name).where(col(Unit.id).in_(missing))
        for unit_id, unit_name in session.exec(query):
            names[int(unit_id or 0)] = unit_name
            reach.unit_ids[unit_name] = int(unit_id or 0)
    for unit_id, figures in live.by_unit.items():
        if unit_id in names:
            _set_counts(reach.by_unit.setdefault(names[unit_id], ReachFigures()), figures)
    reach.by_unit = dict(sorted(reach.by_unit.items()))


def campaign_headline(session: Session, campaign_id: int) -> Headline:
    """The campaign's headline figures exactly as its dashboard page shows them.

    The same source as the page (a big campaign's snapshot, else live figures), so the
    dashboard, ``gaung report`` and the weekly report agree. NotFoundError for no campaign.
    """
    return headline(dashboard_reach(session, campaign_id).total)


def campaign_totals(session: Session, campaign_ids: Sequence[int]) -> dict[int, ReachFigures]:
    """Whole-campaign figures for many campaigns at once (lists), live to the second.

    One GROUP BY over the campaigns' roll-ups (``assignments.rollup``), whatever their size.
    """
    if not campaign_ids:
        return {}
    totals = rollup_totals(session, campaign_ids)
    return {cid: totals.get(cid, ReachFigures()) for cid in campaign_ids}


# --- storing and loading --------------------------------------------------------------------


def store_snapshot(session: Session, reach: CampaignReach, seconds: float) -> ReachSnapshot:
    """Save the campaign's figures as its snapshot, in the caller's transaction."""
    snapshot = session.get(ReachSnapshot, reach.campaign_id) or ReachSnapshot(
        campaign_id=reach.campaign_id
    )
    snapshot.computed_at = utcnow()
    snapshot.assignments = reach.total.assignments
    snapshot.seconds = round(seconds, 3)
    snapshot.payload = to_payload(reach)
    session.add(snapshot)
    return snapshot


# JSON has no datetime: one is written as {"$dt": ISO 8601 text in UTC}.
def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.astimezone(UTC).isoformat()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$dt"}:
            return datetime.fromisoformat(value["$dt"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def to_payload(reach: CampaignReach) -> str:
    data = asdict(reach)
    data.pop("as_of", None)
    return json.dumps(_encode(data), separators=(",", ":"))


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields ``cls`` has: a snapshot from an older version still loads."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _figures_from(data: dict[str, Any]) -> ReachFigures:
    return ReachFigures(**_known(ReachFigures, data))


def from_payload(payload: str, as_of: datetime | None = None) -> CampaignReach:
    data = _decode(json.loads(payload))
    return CampaignReach(
        campaign_id=int(data["campaign_id"]),
        total=_figures_from(data["total"]),
        by_platform={k: _figures_from(v) for k, v in data["by_platform"].items()},
        by_unit={k: _figures_from(v) for k, v in data["by_unit"].items()},
        timeline=[TimelinePoint(*p) for p in data["timeline"]],
        reposters=[Reposter(**_known(Reposter, r)) for r in data["reposters"]],
        api_calls={k: ApiCalls(**_known(ApiCalls, v)) for k, v in data["api_calls"].items()},
        official={
            k: OfficialFigures(**_known(OfficialFigures, v)) for k, v in data["official"].items()
        },
        windows=[WindowPoint(*p) for p in data["windows"]],
        unique_clickers=int(data.get("unique_clickers", 0)),
        bot_fetches=int(data.get("bot_fetches", 0)),
        variants=[VariantFigures(**_known(VariantFigures, v)) for v in data.get("variants", [])],
        # JSON object keys are text: post ids come back as strings.
        by_post={int(k): _figures_from(v) for k, v in data.get("by_post", {}).items()},
        unit_ids={k: int(v) for k, v in data.get("unit_ids", {}).items()},
        as_of=as_of,
    )
