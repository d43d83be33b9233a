"""Reach of a campaign: completion, verification, potential and measured reach, clicks, timing.

Everything comes from a handful of aggregate queries (GROUP BY in the database); Python only
folds the few (platform, unit) groups into totals. Reach is "potential": the followers an
account had when its repost was reported. Measured figures (impressions, engagement) are what
the platforms returned in the latest metrics snapshot, ``None`` ("not returned") otherwise.

Pages show a big campaign from a snapshot of these figures taken in the background instead
(``assignments.reach_snapshot``), its additive counts from the live roll-ups
(``assignments.rollup``, whose recount is this module's aggregate).

Verification rate: only reposts Gaung can check automatically count. X always can (the repost
search and the link check); Instagram only where the account could be read (a professional
account: business discovery): a report whose link check recorded ``unverifiable`` evidence
(personal account, platform not connected) cannot be, unless a later check did reach a verdict;
Facebook never (Graph cannot read personal profiles). Reports that cannot be checked are
counted apart as "reported, not verifiable" and stay out of the rate's denominator. The
headline figures (``Headline``, ``headline``) are what the dashboard, ``gaung report`` and the
weekly report show.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Index, and_, case, func, text
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from assignments.evidence import VerifyCursor, automatically_verifiable
from assignments.metrics import SPANS, ApiUsage, PostMetrics, RepostMetrics
from assignments.models import Assignment, AssignmentStatus, Click
from assignments.reposters import MISSING, REPOSTED, Reposter, iter_reposters
from assignments.tracking import visitor_counts
from assignments.variant_figures import VariantFigures, compared, variant_figures
from content.models import Campaign
from gaung.errors import N_, NotFoundError
from gaung.i18n import format_number, format_ratio
from gaung.i18n import gettext as _
from gaung.settings import PLATFORMS
from roster.models import Asn, Unit

# Clicks are counted per assignment by an index-only scan of this (the aggregate's biggest
# input: millions of rows for a big campaign). Declared here, next to the query that needs it.
CLICKS_BY_ASSIGNMENT = Index(
    "ix_click_campaign_assignment", col(Click.campaign_id), col(Click.assignment_id)
)


@dataclass
class ReachFigures:
    assignments: int = 0
    reported: int = 0  # REPORTED + VERIFIED
    verified: int = 0
    declined: int = 0
    potential_reach: int = 0  # followers at report time of reported + verified reposts
    clicks: int = 0
    rejected: int = 0
    expired: int = 0
    verified_reach: int = 0  # followers at report time of verified reposts only
    deleted_after_verification: int = 0  # verified reposts later seen deleted
    measured: int = 0  # reposts with a metrics snapshot
    impressions: int | None = None  # None: no platform returned any
    engagement: int | None = None  # likes + reposts + replies; None: none returned
    median_repost_seconds: float | None = None  # dispatch → repost; per scope, not additive
    withdrawn: int = 0  # still open when their post was withdrawn: nothing left to do
    # Verification rate over automatically verifiable reposts only (module docstring):
    checkable: int = 0  # reported, verified or rejected where Gaung can check
    checkable_verified: int = 0  # of those, verified
    unverifiable: int = 0  # reported where Gaung cannot check: "reported, not verifiable"

    @property
    def expected(self) -> int:
        """Assignments that still asked for a repost (withdrawn ones no longer do)."""
        return self.assignments - self.withdrawn

    @property
    def completion_rate(self) -> float:
        return self.reported / self.expected if self.expected else 0.0

    @property
    def verification_rate(self) -> float | None:
        """Verified among the automatically verifiable reposts (reported, verified, rejected).

        None when there is none: Facebook alone, or nothing reported yet. Reports that cannot
        be checked (``unverifiable``) are not in the denominator.
        """
        return self.checkable_verified / self.checkable if self.checkable else None

    @property
    def verified_rate(self) -> float:
        """Verified among all assignments (but those withdrawn)."""
        return self.verified / self.expected if self.expected else 0.0

    def add(self, other: ReachFigures) -> None:
        for name in _ADDITIVE:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.impressions = _plus(self.impressions, other.impressions)
        self.engagement = _plus(self.engagement, other.engagement)


_ADDITIVE = (
    "assignments",
    "reported",
    "verified",
    "declined",
    "potential_reach",
    "clicks",
    "rejected",
    "expired",
    "verified_reach",
    "deleted_after_verification",
    "measured",
    "withdrawn",
    "checkable",
    "checkable_verified",
    "unverifiable",
)


def _plus(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else a + b


@dataclass(frozen=True)
class Headline:
    """The figures a campaign is summed up by, wherever it is summed up.

    The dashboard's tiles, ``gaung report`` and the weekly report all show ``items()`` of the
    same ``headline(figures)``, so they cannot disagree. Build one with ``headline`` from a
    ``ReachFigures`` (a campaign's ``total``, or any scope), or for a campaign with
    ``assignments.reach_snapshot.campaign_headline`` (snapshot-aware, as the dashboard).
    """

    assignments: int
    reported: int
    verified: int
    checkable: int  # automatically verifiable reposts: the verification rate's denominator
    checkable_verified: int  # of those, verified: its numerator
    unverifiable: int  # reported where no automatic check is possible
    completion_rate: float
    verified_reach: int
    potential_reach: int
    clicks: int

    @property
    def verification_rate(self) -> float | None:
        return self.checkable_verified / self.checkable if self.checkable else None

    def items(self) -> list[tuple[str, str, str]]:
        """(key, label, value) of each figure, label and value in the current locale."""
        rate = self.verification_rate
        rate_text = (
            "—"
            if rate is None
            else _("%(rate)s (%(verified)s of %(checked)s)")
            % {
                "rate": format_ratio(rate),
                "verified": format_number(self.checkable_verified),
                "checked": format_number(self.checkable),
            }
        )
        return [
            ("assignments", _("Assignments"), format_number(self.assignments)),
            ("reported", _("Reported reposts"), format_number(self.reported)),
            ("verified", _("Verified"), format_number(self.verified)),
            ("verification_rate", _("Verification rate (verifiable reposts)"), rate_text),
            ("unverifiable", _("Reported, not verifiable"), format_number(self.unverifiable)),
            ("completion", _("Completion"), format_ratio(self.completion_rate)),
            (
                "verified_reach",
                _("Potential reach, verified reposts"),
                format_number(self.verified_reach),
            ),
            (
                "potential_reach",
                _("Potential reach, all reported reposts"),
                format_number(self.potential_reach),
            ),
            ("clicks", _("Clicks"), format_number(self.clicks)),
        ]


def headline(figures: ReachFigures) -> Headline:
    """The headline figures of a scope (usually a campaign's ``total``)."""
    return Headline(
        assignments=figures.assignments,
        reported=figures.reported,
        verified=figures.verified,
        checkable=figures.checkable,
        checkable_verified=figures.checkable_verified,
        unverifiable=figures.unverifiable,
        completion_rate=figures.completion_rate,
        verified_reach=figures.verified_reach,
        potential_reach=figures.potential_reach,
        clicks=figures.clicks,
    )


class TimelinePoint(NamedTuple):
    bucket: datetime  # start of the hour, aware UTC
    reposts: int
    clicks: int


class WindowPoint(NamedTuple):
    """Reposts of one platform as measured one window (1h, 24h, 72h) after posting."""

    platform: str
    window: str
    measured: int
    impressions: int | None
    engagement: int | None


@dataclass
class OfficialFigures:
    """The agency's own posts on one platform, at their latest metrics snapshot."""

    posts: int = 0
    window: str | None = None
    impressions: int | None = None
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None


@dataclass
class ApiCalls:
    verification: int = 0
    metrics: int = 0

    @property
    def total(self) -> int:
        return self.verification + self.metrics


@dataclass
class CampaignReach:
    campaign_id: int
    total: ReachFigures = field(default_factory=ReachFigures)
    by_platform: dict[str, ReachFigures] = field(default_factory=dict)
    by_unit: dict[str, ReachFigures] = field(default_factory=dict)  # keyed by unit name
    timeline: list[TimelinePoint] = field(default_factory=list)
    reposters: list[Reposter] = field(default_factory=list)
    api_calls: dict[str, ApiCalls] = field(default_factory=dict)
    official: dict[str, OfficialFigures] = field(default_factory=dict)
    windows: list[WindowPoint] = field(default_factory=list)
    unique_clickers: int = 0  # once per link and day (assignments.tracking)
    bot_fetches: int = 0  # link previews and other bots, not clicks
    variants: list[VariantFigures] = field(default_factory=list)  # where there were several
    by_post: dict[int, ReachFigures] = field(default_factory=dict)  # keyed by post id
    unit_ids: dict[str, int] = field(default_factory=dict)  # unit name → id (drill-down links)
    as_of: datetime | None = None  # when a snapshot was taken; None: computed just now

    @property
    def api_calls_total(self) -> int:
        return sum(calls.total for calls in self.api_calls.values())


def campaign_reach(
    session: Session, campaign_id: int, *, reposters_limit: int | None = None
) -> CampaignReach:
    """Every figure of the campaign, computed now from the assignments (exact)."""
    if session.get(Campaign, campaign_id) is None:
        raise NotFoundError(N_("Campaign not found."))
    reach = CampaignReach(campaign_id=campaign_id)
    scope = drill_down(session, campaign_id)
    reach.total, reach.by_platform, reach.by_unit = scope.total, scope.by_platform, scope.by_unit
    reach.by_post, reach.unit_ids = scope.by_post, scope.unit_ids
    units = {unit_id: name for name, unit_id in scope.unit_ids.items()}
    _apply_medians(reach, _medians(session, campaign_id), units)
    reach.timeline = _timeline(session, campaign_id)
    reach.reposters = list(iter_reposters(session, campaign_id, limit=reposters_limit))
    reach.api_calls = _api_calls(session, campaign_id)
    reach.official = _official(session, campaign_id)
    reach.windows = _windows(session, campaign_id)
    reach.unique_clickers, reach.bot_fetches = visitor_counts(session.connection(), campaign_id)
    reach.variants = compared(variant_figures(session.connection(), campaign_id))
    return reach


_Group = tuple[str, int, int, str]  # (platform, unit id, post id, unit name)


def _group_order(item: tuple[_Group, ReachFigures]) -> tuple[int, str, int]:
    platform, _unit_id, post_id, _name = item[0]
    rank = PLATFORMS.index(platform) if platform in PLATFORMS else len(PLATFORMS)
    return rank, platform, post_id


@dataclass
class DrillDown:
    """Figures of part of a campaign (one post, one unit, or all of it), folded several ways.

    No medians (``campaign_reach`` adds them for the whole campaign): these are the
    additive figures only.
    """

    total: ReachFigures = field(default_factory=ReachFigures)
    by_platform: dict[str, ReachFigures] = field(default_factory=dict)
    by_unit: dict[str, ReachFigures] = field(default_factory=dict)  # by unit name, sorted
    unit_ids: dict[str, int] = field(default_factory=dict)  # unit name → id
    by_post: dict[int, ReachFigures] = field(default_factory=dict)  # by post id, ascending
    by_post_platform: dict[tuple[int, str], ReachFigures] = field(default_factory=dict)


def drill_down(
    session: Session, campaign_id: int, *, post_id: int | None = None, unit_id: int | None = None
) -> DrillDown:
    """The campaign's figures, only one post's or one unit's when given (live, exact).

    One aggregate pass grouped by (platform, unit, post); Python folds the groups.
    """
    where: list[ColumnElement[bool]] = []
    if post_id is not None:
        where.append(col(Assignment.post_id) == post_id)
    if unit_id is not None:
        where.append(col(Assignment.unit_id) == unit_id)
    scope = DrillDown()
    for (platform, unit, post, name), figures in sorted(
        _group_figures(session, campaign_id, where).items(), key=_group_order
    ):
        scope.unit_ids[name] = unit
        scope.total.add(figures)
        scope.by_platform.setdefault(platform, ReachFigures()).add(figures)
        scope.by_unit.setdefault(name, ReachFigures()).add(figures)
        scope.by_post.setdefault(post, ReachFigures()).add(figures)
        scope.by_post_platform.setdefault((post, platform), ReachFigures()).add(figures)
    scope.by_unit = dict(sorted(scope.by_unit.items()))
    scope.by_post = dict(sorted(scope.by_post.items()))
    scope.by_post_platform = dict(
        sorted(scope.by_post_platform.items(), key=lambda i: (i[0][0], _platform_rank(i[0][1])))
    )
    return scope


@dataclass
class Person:
    """One ASN's figures in a scope; ``asn_id`` None for assignments of those who left."""

    asn_id: int | None
    name: str
    figures: ReachFigures


def unit_people(session: Session, campaign_id: int, unit_id: int) -> list[Person]:
    """Everyone in the unit who was assigned something in the campaign, by name."""
    where = [col(Assignment.unit_id) == unit_id]
    cells = _grouped(session, campaign_id, (col(Assignment.asn_id),), where)
    ids = sorted(int(key[0]) for key in cells if key[0] is not None)
    names: dict[int, str] = {}
    if ids:
        query = select(Asn.id, Asn.name).where(col(Asn.id).in_(ids))
        names = {int(i or 0): name for i, name in session.exec(query)}
    people = [
        Person(
            asn_id=None if asn_id is None else int(asn_id),
            name=MISSING if asn_id is None else names.get(int(asn_id), MISSING),
            figures=figures,
        )
        for (asn_id,), figures in cells.items()
    ]
    return sorted(people, key=lambda p: (p.asn_id is None, p.name.casefold(), p.asn_id or 0))


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum_if(condition: ColumnElement[bool], value: Any) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _figure_columns() -> list[Any]:
    """Aggregates of one group of assignments, labelled with ReachFigures field names."""
    status = col(Assignment.status)
    reposted = status.in_(REPOSTED)
    verified = status == AssignmentStatus.VERIFIED
    followers = col(Assignment.followers_at_report)
    gone = and_(verified, col(Assignment.flagged_gone_at).is_not(None))
    auto = automatically_verifiable()
    claimed = status.in_((*REPOSTED, AssignmentStatus.REJECTED))
    return [
        func.count(col(Assignment.id)).label("assignments"),
        _count_if(reposted).label("reported"),
        _count_if(verified).label("verified"),
        _count_if(status == AssignmentStatus.DECLINED).label("declined"),
        _sum_if(reposted, followers).label("potential_reach"),
        _count_if(status == AssignmentStatus.REJECTED).label("rejected"),
        _count_if(status == AssignmentStatus.EXPIRED).label("expired"),
        _sum_if(verified, followers).label("verified_reach"),
        _count_if(gone).label("deleted_after_verification"),
        _count_if(status == AssignmentStatus.WITHDRAWN).label("withdrawn"),
        _count_if(and_(auto, claimed)).label("checkable"),
        _count_if(and_(auto, verified)).label("checkable_verified"),
        _count_if(and_(~auto, status == AssignmentStatus.REPORTED)).label("unverifiable"),
    ]


_FIGURE_NAMES = (
    "assignments",
    "reported",
    "verified",
    "declined",
    "potential_reach",
    "rejected",
    "expired",
    "verified_reach",
    "deleted_after_verification",
    "withdrawn",
    "checkable",
    "checkable_verified",
    "unverifiable",
)


def _figures(mapping: Any) -> ReachFigures:
    return ReachFigures(**{name: int(mapping[name]) for name in _FIGURE_NAMES})


# For the roll-ups' recount (assignments.rollup): the same aggregate, grouped its own way.
figure_columns = _figure_columns
figures_from = _figures


def live_totals(session: Session, campaign_ids: Sequence[int]) -> dict[int, ReachFigures]:
    """Whole-campaign figures from the assignments and clicks as they are now.

    A campaign with neither is left out; ``campaign_totals`` gives it zero figures.
    """
    campaign = col(Assignment.campaign_id)
    counts = (
        sa_select(campaign.label("campaign_id"), *_figure_columns())
        .where(campaign.in_(campaign_ids))
        .group_by(campaign)
    )
    rows = session.connection().execute(counts).mappings()
    totals = {int(row["campaign_id"]): _figures(row) for row in rows}
    clicks = (
        sa_select(col(Click.campaign_id), func.count(col(Click.id)))
        .where(col(Click.campaign_id).in_(campaign_ids))
        .group_by(col(Click.campaign_id))
    )
    for campaign_id, count in session.connection().execute(clicks):
        totals.setdefault(int(campaign_id), ReachFigures()).clicks = int(count)
    return totals


def _group_figures(
    session: Session, campaign_id: int, where: Sequence[ColumnElement[bool]] = ()
) -> dict[_Group, ReachFigures]:
    """Assignment, click and metrics figures per (platform, unit, post); unit names added."""
    cells = _grouped(session, campaign_id, _cell_columns(), where)
    names = _unit_names(session, {int(key[1]) for key in cells})
    return {
        (str(p), int(u), int(post), names.get(int(u), MISSING)): figures
        for (p, u, post), figures in cells.items()
    }


def _cell_columns() -> tuple[Any, ...]:
    return (col(Assignment.platform), col(Assignment.unit_id), col(Assignment.post_id))


def _grouped(
    session: Session,
    campaign_id: int,
    group: Sequence[Any],
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[tuple[Any, ...], ReachFigures]:
    """Assignment, click and metrics figures per value of the ``group`` columns.

    One pass over the campaign's assignments, each joined to its click count (clicks are
    counted per assignment first, so the join meets one row per assignment, not per click),
    and one over the latest metrics snapshots.
    """
    clicks = (
        sa_select(col(Click.assignment_id), func.count().label("n"))
        .where(col(Click.campaign_id) == campaign_id)
        .group_by(col(Click.assignment_id))
        .subquery("clicks")
    )
    counts = (
        sa_select(
            *group, *_figure_columns(), func.coalesce(func.sum(clicks.c.n), 0).label("clicks")
        )
        .outerjoin(clicks, clicks.c.assignment_id == col(Assignment.id))
        .where(col(Assignment.campaign_id) == campaign_id, *where)
        .group_by(*group)
    )
    cells: dict[tuple[Any, ...], ReachFigures] = {}
    width = len(group)
    for row in session.connection().execute(counts):
        figures = cells[tuple(row[:width])] = _figures(row._mapping)
        figures.clicks = int(row._mapping["clicks"])
    _add_measured(session, campaign_id, cells, group, where)
    return cells


def _unit_names(session: Session, unit_ids: set[int]) -> dict[int, str]:
    if not unit_ids:
        return {}
    query = select(Unit.id, Unit.name).where(col(Unit.id).in_(sorted(unit_ids)))
    return {int(unit_id or 0): name for unit_id, name in session.exec(query)}


def _latest_metrics(campaign_id: int) -> Any:
    """Each measured assignment's most recent snapshot (a subquery with column ``rn`` = 1)."""
    order = (col(RepostMetrics.taken_at).desc(), col(RepostMetrics.id).desc())
    rank = func.row_number().over(partition_by=col(RepostMetrics.assignment_id), order_by=order)
    return (
        sa_select(
            col(RepostMetrics.assignment_id),
            col(RepostMetrics.impressions),
            col(RepostMetrics.likes),
            col(RepostMetrics.reposts),
            col(RepostMetrics.replies),
            rank.label("rn"),
        )
        .where(col(RepostMetrics.campaign_id) == campaign_id)
        .subquery("latest")
    )


def _engagement_columns(source: Any) -> list[Any]:
    """measured, impressions sum and count, engagement sum and count over snapshot rows."""
    engaged = source.c.likes.is_not(None) | source.c.reposts.is_not(None)
    engaged = engaged | source.c.replies.is_not(None)
    parts = [func.coalesce(source.c[name], 0) for name in ("likes", "reposts", "replies")]
    return [
        func.count(),
        func.coalesce(func.sum(source.c.impressions), 0),
        func.count(source.c.impressions),
        func.coalesce(func.sum(parts[0] + parts[1] + parts[2]), 0),
        _count_if(engaged),
    ]


def _measured(values: Sequence[Any]) -> tuple[int, int | None, int | None]:
    measured, impressions, with_impressions, engagement, with_engagement = (int(v) for v in values)
    return (
        measured,
        impressions if with_impressions else None,
        engagement if with_engagement else None,
    )


def _add_measured(
    session: Session,
    campaign_id: int,
    cells: dict[tuple[Any, ...], ReachFigures],
    group: Sequence[Any],
    where: Sequence[ColumnElement[bool]] = (),
) -> None:
    latest = _latest_metrics(campaign_id)
    query = (
        sa_select(*group, *_engagement_columns(latest))
        .select_from(latest)
        .join(Assignment, col(Assignment.id) == latest.c.assignment_id)
        .where(latest.c.rn == 1, *where)
        .group_by(*group)
    )
    width = len(group)
    for row in session.connection().execute(query):
        figures = cells.setdefault(tuple(row[:width]), ReachFigures())
        figures.measured, figures.impressions, figures.engagement = _measured(row[width:])


# --- median time from dispatch to repost --------------------------------------------------

_Medians = dict[tuple[str | None, int | None], float]  # (platform, unit) → seconds; None: all

_PG_MEDIANS = text(
    """
    SELECT platform, unit_id, GROUPING(platform), GROUPING(unit_id),
           percentile_cont(0.5) WITHIN GROUP (
             ORDER BY GREATEST(0, EXTRACT(EPOCH FROM reported_at - created_at))) AS seconds
    FROM assignment
    WHERE campaign_id = :campaign_id AND status IN ('reported', 'verified')
      AND reported_at IS NOT NULL
    GROUP BY GROUPING SETS ((), (platform), (unit_id))
    """
)


def _medians(session: Session, campaign_id: int) -> _Medians:
    """Median seconds from dispatch (the assignment's creation) to the repost, per scope.

    PostgreSQL computes all three scopes in one PERCENTILE_CONT query with grouping sets;
    SQLite has neither, so one query fetches the durations and Python takes the medians.
    """
    if session.get_bind().dialect.name == "postgresql":
        rows = session.connection().execute(_PG_MEDIANS, {"campaign_id": campaign_id})
        result: _Medians = {}
        for platform, unit_id, platform_rolled_up, unit_rolled_up, seconds in rows:
            if seconds is not None:  # the () grouping set answers NULL when nothing matched
                scope = (
                    None if platform_rolled_up else platform,
                    None if unit_rolled_up else unit_id,
                )
                result[scope] = float(seconds)
        return result
    return _python_medians(session, campaign_id)


def _python_medians(session: Session, campaign_id: int) -> _Medians:
    days = func.julianday(col(Assignment.reported_at)) - func.julianday(col(Assignment.created_at))
    query = sa_select(col(Assignment.platform), col(Assignment.unit_id), days * 86400.0).where(
        col(Assignment.campaign_id) == campaign_id,
        col(Assignment.status).in_(REPOSTED),
        col(Assignment.reported_at).is_not(None),
    )
    samples: dict[tuple[str | None, int | None], list[float]] = {}
    for platform, unit_id, seconds in session.connection().execute(query):
        value = max(0.0, float(seconds))
        for key in ((None, None), (platform, None), (None, unit_id)):
            samples.setdefault(key, []).append(value)
    return {key: float(statistics.median(values)) for key, values in samples.items()}


def _apply_medians(reach: CampaignReach, medians: _Medians, units: dict[int, str]) -> None:
    reach.total.median_repost_seconds = medians.get((None, None))
    for platform, figures in reach.by_platform.items():
        figures.median_repost_seconds = medians.get((platform, None))
    for unit_id, unit_name in units.items():
        reach.by_unit[unit_name].median_repost_seconds = medians.get((None, unit_id))


# --- API calls, official posts, metrics windows --------------------------------------------


def _api_calls(session: Session, campaign_id: int) -> dict[str, ApiCalls]:
    calls: dict[str, ApiCalls] = {}
    verification = (
        select(VerifyCursor.platform, func.sum(VerifyCursor.api_calls))
        .where(VerifyCursor.campaign_id == campaign_id)
        .group_by(col(VerifyCursor.platform))
    )
    for platform, count in session.exec(verification):
        calls.setdefault(platform, ApiCalls()).verification += int(count or 0)
    metrics = (
        select(ApiUsage.platform, func.sum(ApiUsage.calls))
        .where(ApiUsage.campaign_id == campaign_id)
        .group_by(col(ApiUsage.platform))
    )
    for platform, count in session.exec(metrics):
        calls.setdefault(platform, ApiCalls()).metrics += int(count or 0)
    return {p: calls[p] for p in sorted(calls, key=_platform_rank) if calls[p].total}


def _platform_rank(platform: str) -> tuple[int, str]:
    return (PLATFORMS.index(platform) if platform in PLATFORMS else len(PLATFORMS), platform)


def _official(session: Session, campaign_id: int) -> dict[str, OfficialFigures]:
    """Per platform: the agency's official posts at their latest snapshot, summed."""
    rows = session.exec(
        select(PostMetrics)
        .where(PostMetrics.campaign_id == campaign_id)
        .order_by(col(PostMetrics.taken_at), col(PostMetrics.id))
    )
    latest = {(m.post_id, m.platform): m for m in rows}  # later rows overwrite earlier ones
    official: dict[str, OfficialFigures] = {}
    for (_post_id, platform), m in sorted(latest.items(), key=lambda i: _platform_rank(i[0][1])):
        figures = official.setdefault(platform, OfficialFigures())
        figures.posts += 1
        figures.window = _later_window(figures.window, m.window)
        figures.impressions = _plus(figures.impressions, m.impressions)
        figures.likes = _plus(figures.likes, m.likes)
        figures.reposts = _plus(figures.reposts, m.reposts)
        figures.replies = _plus(figures.replies, m.replies)
    return official


def _later_window(a: str | None, b: str) -> str:
    order = list(SPANS)
    return b if a is None or order.index(b) > order.index(a) else a


def _windows(session: Session, campaign_id: int) -> list[WindowPoint]:
    """Reposts' impressions and engagement per platform and window, for the growth chart."""
    table = RepostMetrics.__table__  # type: ignore[attr-defined]
    query = (
        sa_select(table.c.platform, table.c.window, *_engagement_columns(table))
        .where(table.c.campaign_id == campaign_id)
        .group_by(table.c.platform, table.c.window)
    )
    points = [
        WindowPoint(platform, window, *_measured(values))
        for platform, window, *values in session.connection().execute(query)
    ]
    order = list(SPANS)
    return sorted(points, key=lambda p: (_platform_rank(p.platform), order.index(p.window)))


# --- timeline -------------------------------------------------------------------------------


def _hour_bucket(session: Session, column: Any) -> Any:
    """The hour a UTC timestamp falls in, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        # timestamptz truncates in the session time zone: convert to UTC first.
        return func.date_trunc("hour", func.timezone("UTC", column))
    # SQLite stores UTC as "YYYY-MM-DD HH:MM:SS.ffffff" text.
    return func.strftime("%Y-%m-%d %H:00:00", column)


def as_utc(value: datetime | str) -> datetime:
    """A timestamp as read back from the database, aware: naive ones and SQLite's text are UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _hourly(session: Session, column: Any, *where: Any) -> dict[datetime, int]:
    bucket = _hour_bucket(session, column).label("bucket")
    query = select(bucket, func.count()).where(*where).group_by(bucket)
    return {as_utc(b): int(n) for b, n in session.exec(query)}


def _timeline(session: Session, campaign_id: int) -> list[TimelinePoint]:
    """Reposts and clicks per hour with activity, oldest first."""
    reposts = _hourly(
        session,
        col(Assignment.reported_at),
        Assignment.campaign_id == campaign_id,
        col(Assignment.status).in_(REPOSTED),
        col(Assignment.reported_at).is_not(None),
    )
    clicks = _hourly(session, col(Click.at), Click.campaign_id == campaign_id)
    return [
        TimelinePoint(hour, reposts.get(hour, 0), clicks.get(hour, 0))
        for hour in sorted(reposts.keys() | clicks.keys())
    ]
