"""An ASN's assignments in their personal-data export, and what leaving erases of them.

Registered with ``roster.privacy`` by the composition root (``wiring``). Leaving keeps each
assignment's status, platform, unit and follower count at report time, so completion and
potential reach still add up, but drops the person, the account, the repost link and the
decline reason; evidence loses links and post ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from assignments.evidence import Evidence
from assignments.models import Assignment, Click
from content.models import Campaign
from roster.models import Asn

_BULK = {"synchronize_session": False}


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_personal_data(session: Session, asn: Asn) -> dict[str, Any]:
    """The ASN's assignments with their clicks and evidence, for the personal-data export."""
    return {"assignments": _assignments(session, asn.id)}


def _assignments(session: Session, asn_id: int | None) -> list[dict[str, Any]]:
    rows = list(
        session.exec(
            select(Assignment, Campaign.title)
            .join(Campaign, col(Campaign.id) == col(Assignment.campaign_id))
            .where(Assignment.asn_id == asn_id)
            .order_by(col(Assignment.id))
        )
    )
    ids = [a.id for a, _ in rows if a.id is not None]
    clicks = _click_counts(session, ids)
    evidence = _evidence(session, ids)
    return [
        {
            "id": a.id,
            "campaign": title,
            "platform": a.platform,
            "status": a.status,
            "deadline": _time(a.deadline),
            "tracking_code": a.code,
            "repost_url": a.repost_url,
            "reported_at": _time(a.reported_at),
            "followers_at_report": a.followers_at_report,
            "verified_at": _time(a.verified_at),
            "decline_reason": a.decline_reason,
            "clicks": clicks.get(a.id or 0, 0),
            "evidence": evidence.get(a.id or 0, []),
        }
        for a, title in rows
    ]


def _click_counts(session: Session, assignment_ids: list[int]) -> dict[int, int]:
    if not assignment_ids:
        return {}
    query = (
        select(Click.assignment_id, func.count())
        .where(col(Click.assignment_id).in_(assignment_ids))
        .group_by(col(Click.assignment_id))
    )
    return {assignment_id: count for assignment_id, count in session.exec(query)}


def _evidence(session: Session, assignment_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    if not assignment_ids:
        return found
    query = (
        select(Evidence)
        .where(col(Evidence.assignment_id).in_(assignment_ids))
        .order_by(col(Evidence.seen_at))
    )
    for row in session.exec(query):
        found.setdefault(row.assignment_id, []).append(
            {
                "check": row.check,
                "outcome": row.outcome,
                "reason": row.reason,
                "url": row.url,
                "seen_at": _time(row.seen_at),
            }
        )
    return found


def erase_personal_data(session: Session, asn: Asn) -> None:
    """Anonymise the ASN's assignments and their evidence (counts stay, the person goes)."""
    asn_id = asn.id
    mine = select(Assignment.id).where(Assignment.asn_id == asn_id)
    session.execute(
        update(Evidence)
        .where(col(Evidence.assignment_id).in_(mine.scalar_subquery()))
        .values(url=None, platform_post_id=None, detail=""),
        execution_options=_BULK,
    )
    session.execute(
        update(Assignment)
        .where(col(Assignment.asn_id) == asn_id)
        .values(
            asn_id=None, account_id=None, repost_url=None, repost_key=None, decline_reason=None
        ),
        execution_options=_BULK,
    )
