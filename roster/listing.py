"""The console's lists of ASN: a filtered page of people, counts per status, their accounts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, func, or_, select

from gaung.settings import PLATFORMS
from roster.eligibility import not_eligible_clause
from roster.models import Agency, Asn, SocialAccount

PAGE_SIZE = 50


@dataclass(frozen=True)
class AsnPage:
    people: list[Asn]
    total: int
    page: int
    pages: int


def list_asn(
    session: Session,
    agency_id: int,
    *,
    status: str | None = None,
    unit_id: int | None = None,
    search: str = "",
    page: int = 1,
    not_eligible: bool = False,
) -> AsnPage:
    """A page of the agency's ASN, newest first, filtered by status, unit and name/NIP;
    ``not_eligible``: only active ones with an account that gets no assignments
    (roster.eligibility.not_eligible_clause)."""
    query = select(Asn).where(Asn.agency_id == agency_id)
    if not_eligible:
        query = query.where(not_eligible_clause(session.get(Agency, agency_id)))
    if status:
        query = query.where(Asn.status == status)
    if unit_id:
        query = query.where(Asn.unit_id == unit_id)
    text = search.strip()
    if text:
        like = f"%{text.lower()}%"
        query = query.where(or_(func.lower(Asn.name).like(like), col(Asn.nip).like(f"{text}%")))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.exec(
        query.order_by(col(Asn.created_at).desc(), col(Asn.id).desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return AsnPage(list(rows), total, page, pages)


def status_counts(session: Session, agency_id: int) -> dict[str, int]:
    query = (
        select(Asn.status, func.count()).where(Asn.agency_id == agency_id).group_by(col(Asn.status))
    )
    return {status: count for status, count in session.exec(query)}


def not_eligible_count(session: Session, agency_id: int) -> int:
    """How many active ASN of the agency have an account that gets no assignments."""
    clause = not_eligible_clause(session.get(Agency, agency_id))
    query = select(func.count()).select_from(Asn).where(Asn.agency_id == agency_id, clause)
    return session.exec(query).one()


def accounts_of(session: Session, asn_ids: Sequence[int]) -> dict[int, list[SocialAccount]]:
    found: dict[int, list[SocialAccount]] = {asn_id: [] for asn_id in asn_ids}
    if not asn_ids:
        return found
    query = select(SocialAccount).where(col(SocialAccount.asn_id).in_(list(asn_ids)))
    order = {platform: n for n, platform in enumerate(PLATFORMS)}
    for account in sorted(session.exec(query), key=lambda a: order.get(a.platform, 99)):
        found[account.asn_id].append(account)
    return found
