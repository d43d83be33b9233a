"""Who may receive an assignment: active, consenting ASN with a proven, big enough account."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from roster.agencies import min_followers
from roster.models import Agency, Asn, AsnStatus, SocialAccount


def eligible_accounts(
    session: Session, *, agency_id: int, unit_ids: Sequence[int], platform: str
) -> list[tuple[int, int, int]]:
    """(asn_id, unit_id, account_id) of every eligible ASN on ``platform``, in one query
    (plus reading the agency row, once per session).

    Eligible: status active, consent recorded, in the agency (and in ``unit_ids`` unless
    it is empty, which means the whole agency), with an enrolled account on the platform
    whose ownership was verified (roster.ownership) and whose follower count meets
    settings.eligibility.minimum(platform), or the agency's own minimum where stricter
    (roster.agencies.min_followers).
    """
    minimum = min_followers(session.get(Agency, agency_id), platform)
    query = (
        select(Asn.id, Asn.unit_id, SocialAccount.id)
        .join(SocialAccount, col(SocialAccount.asn_id) == col(Asn.id))
        .where(
            col(Asn.agency_id) == agency_id,
            col(Asn.status) == AsnStatus.ACTIVE,
            col(Asn.consent_at).is_not(None),
            col(SocialAccount.platform) == platform,
            col(SocialAccount.ownership_verified_at).is_not(None),
            col(SocialAccount.followers) >= minimum,
        )
        .order_by(col(Asn.id))
    )
    if unit_ids:
        query = query.where(col(Asn.unit_id).in_(list(unit_ids)))
    rows: list[tuple[int, int, int]] = [tuple(row) for row in session.exec(query)]  # type: ignore[misc]
    return rows
