"""Who reposted a campaign (its reported and verified reposts), and every assignment, one row each.

The dashboard shows the first page of them, the CSV streams them all, so the list is read in
chunks and never held whole. Each row carries the repost's latest metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from assignments.evidence import automatically_verifiable
from assignments.metrics import RepostMetrics
from assignments.models import Assignment, AssignmentStatus
from roster.models import Asn, SocialAccount, Unit

MISSING = "—"  # shown for an ASN who left (their assignment keeps no link to them)
# A repost someone claimed (reported) or Gaung saw (verified); a rejected claim is not one.
REPOSTED = (AssignmentStatus.REPORTED, AssignmentStatus.VERIFIED)


@dataclass(frozen=True)
class Reposter:
    """One reported or verified repost, as the page and the CSV list it."""

    asn_name: str
    unit: str
    platform: str
    handle: str
    followers: int | None
    repost_url: str | None
    reported_at: datetime | None
    status: str
    verified_at: datetime | None = None
    flagged_gone_at: datetime | None = None
    verifiable: bool = True  # Gaung can check it (evidence.automatically_verifiable)
    impressions: int | None = None
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None


def iter_reposters(
    session: Session, campaign_id: int, *, limit: int | None = None
) -> Iterator[Reposter]:
    """Reported and verified reposts in report order, with their latest metrics.

    The page (``limit``) is chosen from the assignments alone before anything is joined, and
    metrics are looked up per chunk of rows, so the first page of a big campaign stays cheap
    and the CSV streams in constant memory.
    """
    page = (
        sa_select(
            col(Assignment.id), col(Assignment.asn_id), col(Assignment.unit_id),
            col(Assignment.account_id), col(Assignment.platform),
            col(Assignment.followers_at_report), col(Assignment.repost_url),
            col(Assignment.reported_at), col(Assignment.status), col(Assignment.verified_at),
            col(Assignment.flagged_gone_at), automatically_verifiable().label("verifiable"),
        )
        .where(col(Assignment.campaign_id) == campaign_id, col(Assignment.status).in_(REPOSTED))
        .order_by(col(Assignment.reported_at), col(Assignment.id))
    )  # fmt: skip
    if limit is not None:
        page = page.limit(limit)
    rows = page.subquery("page")
    query = (
        sa_select(rows, col(Asn.name), col(Unit.name).label("unit_name"), col(SocialAccount.handle))
        .select_from(rows)
        .join(Unit, col(Unit.id) == rows.c.unit_id)
        .outerjoin(Asn, col(Asn.id) == rows.c.asn_id)
        .outerjoin(SocialAccount, col(SocialAccount.id) == rows.c.account_id)
        .order_by(rows.c.reported_at, rows.c.id)
    )
    # Streamed (a server-side cursor on PostgreSQL): the CSV of a big campaign has many rows.
    options = {"stream_results": True, "yield_per": CHUNK}
    result = session.connection().execute(query, execution_options=options).mappings()
    for chunk in result.partitions(CHUNK):
        latest = _latest_of(session, [row["id"] for row in chunk])
        for row in chunk:
            yield _reposter(row, latest.get(row["id"]))


CHUNK = 2000


def _latest_of(session: Session, assignment_ids: list[int]) -> dict[int, RepostMetrics]:
    """Each assignment's most recent metrics snapshot."""
    query = (
        select(RepostMetrics)
        .where(col(RepostMetrics.assignment_id).in_(assignment_ids))
        .order_by(col(RepostMetrics.taken_at), col(RepostMetrics.id))
    )
    return {m.assignment_id: m for m in session.exec(query)}  # later rows overwrite


def _reposter(row: Any, metrics: RepostMetrics | None) -> Reposter:
    known = row["asn_id"] is not None
    return Reposter(
        asn_name=row["name"] if known and row["name"] else MISSING,
        unit=row["unit_name"],
        platform=row["platform"],
        handle=row["handle"] if known and row["handle"] else MISSING,
        followers=row["followers_at_report"],
        repost_url=row["repost_url"],
        reported_at=row["reported_at"],
        status=row["status"],
        verified_at=row["verified_at"],
        flagged_gone_at=row["flagged_gone_at"],
        verifiable=bool(row["verifiable"]),
        impressions=metrics.impressions if metrics else None,
        likes=metrics.likes if metrics else None,
        reposts=metrics.reposts if metrics else None,
        replies=metrics.replies if metrics else None,
    )


@dataclass(frozen=True)
class AssignmentRow:
    """One assignment of a campaign whatever became of it, as the exports list it."""

    asn_name: str
    unit: str
    platform: str
    handle: str
    status: str
    assigned_at: datetime
    deadline: datetime
    reported_at: datetime | None
    followers: int | None
    repost_url: str | None
    verified_at: datetime | None
    flagged_gone_at: datetime | None
    impressions: int | None
    likes: int | None
    reposts: int | None
    replies: int | None


def iter_assignments(session: Session, campaign_id: int) -> Iterator[AssignmentRow]:
    """Every assignment of the campaign, by unit, name and platform, with its latest metrics.

    Unlike iter_reposters this lists the ASN who did nothing too (pending, declined, expired,
    withdrawn), so a supervisor can follow them up. Streamed in chunks like iter_reposters.
    """
    query = (
        sa_select(
            col(Assignment.id), col(Assignment.asn_id), col(Assignment.platform),
            col(Assignment.status), col(Assignment.created_at), col(Assignment.deadline),
            col(Assignment.reported_at), col(Assignment.followers_at_report),
            col(Assignment.repost_url), col(Assignment.verified_at),
            col(Assignment.flagged_gone_at), col(Asn.name), col(Unit.name).label("unit_name"),
            col(SocialAccount.handle),
        )
        .select_from(Assignment)
        .join(Unit, col(Unit.id) == col(Assignment.unit_id))
        .outerjoin(Asn, col(Asn.id) == col(Assignment.asn_id))
        .outerjoin(SocialAccount, col(SocialAccount.id) == col(Assignment.account_id))
        .where(col(Assignment.campaign_id) == campaign_id)
        # Those who left (no ASN) last in their unit, on SQLite and PostgreSQL alike.
        .order_by(
            col(Unit.name), col(Asn.name).is_(None), col(Asn.name), col(Assignment.platform),
            col(Assignment.id),
        )
    )  # fmt: skip
    options = {"stream_results": True, "yield_per": CHUNK}
    result = session.connection().execute(query, execution_options=options).mappings()
    for chunk in result.partitions(CHUNK):
        latest = _latest_of(session, [row["id"] for row in chunk])
        for row in chunk:
            metrics = latest.get(row["id"])
            known = row["asn_id"] is not None
            yield AssignmentRow(
                asn_name=row["name"] if known and row["name"] else MISSING,
                unit=row["unit_name"],
                platform=row["platform"],
                handle=row["handle"] if known and row["handle"] else MISSING,
                status=row["status"],
                assigned_at=row["created_at"],
                deadline=row["deadline"],
                reported_at=row["reported_at"],
                followers=row["followers_at_report"],
                repost_url=row["repost_url"],
                verified_at=row["verified_at"],
                flagged_gone_at=row["flagged_gone_at"],
                impressions=metrics.impressions if metrics else None,
                likes=metrics.likes if metrics else None,
                reposts=metrics.reposts if metrics else None,
                replies=metrics.replies if metrics else None,
            )
