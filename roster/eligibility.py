"""Who may receive an assignment: active, consenting ASN with a proven, big enough account.

The rules are written once, as SQL conditions (``_rules``). ``eligible_accounts`` (dispatch)
keeps the accounts that pass every one; ``standings`` (the inbox notice, the console's "not
eligible" list) names the first one an account fails. Both read the same list, so the reason
shown to a person and the dispatcher's choice cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, not_, or_, union
from sqlmodel import Session, col, select

from gaung.settings import PLATFORMS
from roster.agencies import min_followers
from roster.models import Agency, Asn, AsnStatus, SocialAccount


class Standing(StrEnum):
    """Why an account does (or does not) receive assignments; the first failed rule wins."""

    ELIGIBLE = "eligible"
    INACTIVE = "inactive"  # the person is pending, suspended, rejected or left
    NO_CONSENT = "no_consent"
    NOT_VERIFIED = "not_verified"  # ownership not proven yet
    NO_COUNT = "no_count"  # no follower count read yet (and none imported over the minimum)
    BELOW_MINIMUM = "below_minimum"


# Reasons an active person can do something about (or Humas can): the "not eligible" list.
NOT_ELIGIBLE = (
    Standing.NO_CONSENT,
    Standing.NOT_VERIFIED,
    Standing.NO_COUNT,
    Standing.BELOW_MINIMUM,
)


def _rules(minimum: Any) -> list[tuple[Standing, ColumnElement[bool]]]:
    """Every condition an eligible account meets, in the order reasons are given.

    ``minimum``: an int, or a SQL expression (the per-platform minimum of ``minimum_of``).
    Every column compared here is NOT NULL or tested for NULL, so NOT(rule) is never NULL.
    """
    followers = col(SocialAccount.followers)
    counted = col(SocialAccount.followers_at).is_not(None)
    return [
        (Standing.INACTIVE, col(Asn.status) == AsnStatus.ACTIVE),
        (Standing.NO_CONSENT, col(Asn.consent_at).is_not(None)),
        (Standing.NOT_VERIFIED, col(SocialAccount.ownership_verified_at).is_not(None)),
        (Standing.NO_COUNT, or_(counted, followers >= minimum)),
        (Standing.BELOW_MINIMUM, followers >= minimum),
    ]


def minimums(agency: Agency | None) -> dict[str, int]:
    """The follower minimum in force per platform (roster.agencies.min_followers)."""
    return {platform: min_followers(agency, platform) for platform in PLATFORMS}


def minimum_of(agency: Agency | None) -> ColumnElement[Any]:
    """The account's platform's minimum, as SQL (a platform Gaung does not know: never met)."""
    by_platform: Mapping[str, int] = minimums(agency)
    return case(by_platform, value=col(SocialAccount.platform), else_=literal(2**62))


def standing_of(minimum: Any) -> ColumnElement[Any]:
    """The account's Standing as a SQL CASE over the rules (rows joined to their Asn)."""
    whens = [(not_(rule), literal(reason.value)) for reason, rule in _rules(minimum)]
    return case(*whens, else_=literal(Standing.ELIGIBLE.value))


def eligible_accounts(
    session: Session,
    *,
    agency_id: int,
    unit_ids: Sequence[int],
    platform: str,
    after: int = 0,
    limit: int | None = None,
) -> list[tuple[int, int, int]]:
    """(asn_id, unit_id, account_id) of every eligible ASN on ``platform``, in one query
    (plus reading the agency row, once per session).

    Eligible: status active, consent recorded, in the agency (and in ``unit_ids`` unless
    it is empty, which means the whole agency), with an enrolled account on the platform
    whose ownership was verified (roster.ownership) and whose follower count meets
    settings.eligibility.minimum(platform), or the agency's own minimum where stricter
    (roster.agencies.min_followers).

    ``after``/``limit``: a keyset page (ASN ids above ``after``, at most ``limit`` rows), as
    the chunked dispatcher reads them; one account per ASN per platform keeps it exact.
    """
    query = _eligible(session, agency_id, unit_ids, platform, Asn.id, Asn.unit_id, SocialAccount.id)
    query = query.where(col(Asn.id) > after).order_by(col(Asn.id)).limit(limit)
    rows: list[tuple[int, int, int]] = [tuple(row) for row in session.exec(query)]
    return rows


def _eligible(
    session: Session, agency_id: int, unit_ids: Sequence[int], platform: str, *columns: Any
) -> Any:
    """SELECT ``columns`` of the eligible accounts on ``platform`` (eligible_accounts' rules)."""
    minimum = min_followers(session.get(Agency, agency_id), platform)
    query = (
        select(*columns)
        .select_from(Asn)
        .join(SocialAccount, col(SocialAccount.asn_id) == col(Asn.id))
        .where(
            col(Asn.agency_id) == agency_id,
            col(SocialAccount.platform) == platform,
            *(rule for _, rule in _rules(minimum)),
        )
    )
    if unit_ids:
        query = query.where(col(Asn.unit_id).in_(list(unit_ids)))
    return query


def count_eligible(
    session: Session, *, agency_id: int, unit_ids: Sequence[int], platform: str
) -> int:
    """How many accounts eligible_accounts would return, counted in the database."""
    query = _eligible(session, agency_id, unit_ids, platform, func.count())
    return int(session.exec(query).one())


def eligible_asn_ids(
    session: Session, *, agency_id: int, unit_ids: Sequence[int], platforms: Sequence[str]
) -> Any:
    """A SELECT of the distinct ids of ASN who would get an assignment on any of
    ``platforms``: the same rules as :func:`eligible_accounts`, as SQL to build on (the
    approval page's time-to-notify estimate counts them per messenger without loading them).
    """
    agency = session.get(Agency, agency_id)
    accounts: list[Any] = [
        select(col(Asn.id).label("asn_id"))
        .join(SocialAccount, col(SocialAccount.asn_id) == col(Asn.id))
        .where(
            col(Asn.agency_id) == agency_id,
            col(SocialAccount.platform) == platform,
            *(rule for _, rule in _rules(min_followers(agency, platform))),
            *([col(Asn.unit_id).in_(list(unit_ids))] if unit_ids else []),
        )
        for platform in platforms
    ]
    if not accounts:
        return select(col(Asn.id).label("asn_id")).where(literal(False))
    return accounts[0] if len(accounts) == 1 else union(*accounts)


@dataclass(frozen=True)
class AccountStanding:
    """One account and why it does or does not receive assignments."""

    asn_id: int
    account_id: int
    platform: str
    handle: str
    followers: int
    followers_at: datetime | None
    minimum: int
    standing: Standing

    @property
    def eligible(self) -> bool:
        return self.standing == Standing.ELIGIBLE


def standings(
    session: Session, *, agency_id: int, asn_ids: Sequence[int] | None = None
) -> dict[int, AccountStanding]:
    """Account id → its standing, for the agency's accounts (of ``asn_ids`` when given), in
    one query (plus the agency row)."""
    agency = session.get(Agency, agency_id)
    by_platform = minimums(agency)
    standing = standing_of(minimum_of(agency)).label("standing")
    query = (
        select(SocialAccount, standing)
        .join(Asn, col(Asn.id) == col(SocialAccount.asn_id))
        .where(col(Asn.agency_id) == agency_id)
    )
    if asn_ids is not None:
        query = query.where(col(Asn.id).in_(list(asn_ids) or [-1]))
    found: dict[int, AccountStanding] = {}
    for account, reason in session.exec(query):
        assert account.id is not None
        found[account.id] = AccountStanding(
            asn_id=account.asn_id,
            account_id=account.id,
            platform=account.platform,
            handle=account.handle,
            followers=account.followers,
            followers_at=account.followers_at,
            minimum=by_platform.get(account.platform, 2**62),
            standing=Standing(reason),
        )
    return found


def not_eligible_clause(agency: Agency | None) -> ColumnElement[bool]:
    """SQL for "an active ASN with an account that receives nothing, for a reason they or
    Humas can act on" (correlated to ``Asn``): the console's "not eligible" filter."""
    reason = standing_of(minimum_of(agency))
    return and_(
        col(Asn.status) == AsnStatus.ACTIVE,
        exists(
            select(SocialAccount.id).where(
                col(SocialAccount.asn_id) == col(Asn.id),
                reason.in_([r.value for r in NOT_ELIGIBLE]),
            )
        ),
    )
