"""How each approved text of a post did: per campaign, platform and variant position.

Assignments record which of the post's texts they were given (``Assignment.variant``: 0
the platform's own or the master text, 1..5 an alternative). Two grouped queries, one
over the campaign's assignments and one over its clicks (both by campaign id, indexed),
so the cost does not grow with the number of variants.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from assignments.models import Assignment, AssignmentStatus, Click

_a = Assignment.__table__  # type: ignore[attr-defined]
_c = Click.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class VariantFigures:
    post_id: int
    platform: str
    variant: int
    assignments: int
    reported: int  # REPORTED + VERIFIED, as in assignments.reach
    verified: int
    clicks: int


def variant_figures(conn: Connection, campaign_id: int) -> list[VariantFigures]:
    """Per post, platform and variant of the campaign, in that order."""
    verified = case((_a.c.status == AssignmentStatus.VERIFIED, 1), else_=0)
    reposted = (AssignmentStatus.REPORTED, AssignmentStatus.VERIFIED)
    reported = case((_a.c.status.in_(reposted), 1), else_=0)
    key = (_a.c.post_id, _a.c.platform, _a.c.variant)
    rows = conn.execute(
        select(*key, func.count(), func.sum(reported), func.sum(verified))
        .where(_a.c.campaign_id == campaign_id)
        .group_by(*key)
        .order_by(*key)
    ).all()
    clicks = {
        (post_id, platform, variant): count
        for post_id, platform, variant, count in conn.execute(
            select(*key, func.count())
            .select_from(_c.join(_a, _a.c.id == _c.c.assignment_id))
            .where(_c.c.campaign_id == campaign_id)
            .group_by(*key)
        )
    }
    return [
        VariantFigures(
            post_id=post_id,
            platform=platform,
            variant=variant,
            assignments=count,
            reported=int(reported_count or 0),
            verified=int(verified_count or 0),
            clicks=clicks.get((post_id, platform, variant), 0),
        )
        for post_id, platform, variant, count, reported_count, verified_count in rows
    ]


def compared(figures: list[VariantFigures]) -> list[VariantFigures]:
    """Only the post/platform pairs that had more than one text: there is something to compare."""
    texts: dict[tuple[int, str], int] = {}
    for f in figures:
        texts[(f.post_id, f.platform)] = texts.get((f.post_id, f.platform), 0) + 1
    return [f for f in figures if texts[(f.post_id, f.platform)] > 1]
