"""Eligibility: active, consenting ASN of the agency with a proven account over the minimum."""

from __future__ import annotations

from typing import TypedDict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from gaung.settings import get_settings
from roster.eligibility import eligible_accounts
from roster.models import AsnStatus, SocialAccount
from tests.factories import make_agency, make_asn, make_unit


class Spec(TypedDict):
    """One ASN as ``asn_specs`` draws it."""

    unit: int
    followers: int
    status: AsnStatus
    consent: bool
    verified: bool
    platforms: set[str]


asn_specs = st.lists(
    st.fixed_dictionaries(
        {
            "unit": st.integers(min_value=0, max_value=2),
            "followers": st.sampled_from([0, 499, 500, 501, 100_000]),
            "status": st.sampled_from(list(AsnStatus)),
            "consent": st.booleans(),
            "verified": st.booleans(),
            "platforms": st.sets(st.sampled_from(["x", "facebook", "instagram"])),
        }
    ),
    max_size=6,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=asn_specs,
    platform=st.sampled_from(["x", "facebook", "instagram"]),
    target=st.sets(st.integers(min_value=0, max_value=2)),
)
def test_eligible_accounts_match_the_rules(
    session: Session,
    specs: list[Spec],
    platform: str,
    target: set[int],
) -> None:
    # A fresh agency per example, so rows left by earlier examples cannot interfere.
    agency = make_agency(session)
    units = [make_unit(session, agency) for _ in range(3)]
    minimum = get_settings().eligibility.minimum(platform)
    expected = set()
    for spec in specs:
        unit = units[spec["unit"]]
        asn = make_asn(
            session,
            unit,
            followers=spec["followers"],
            platforms=spec["platforms"],
            status=spec["status"],
            consent=spec["consent"],
        )
        if not spec["verified"]:  # enrolled, but the ownership code was never confirmed
            session.execute(
                update(SocialAccount)
                .where(col(SocialAccount.asn_id) == asn.id)
                .values(ownership_verified_at=None)
            )
            session.commit()
        if (
            spec["status"] == AsnStatus.ACTIVE
            and spec["consent"]
            and spec["verified"]
            and platform in spec["platforms"]
            and spec["followers"] >= minimum
            and (not target or spec["unit"] in target)
        ):
            account = session.exec(
                select(SocialAccount).where(
                    SocialAccount.asn_id == asn.id, SocialAccount.platform == platform
                )
            ).one()
            expected.add((asn.id, unit.id, account.id))
    make_asn(session, make_unit(session, make_agency(session)))  # another agency: never

    got = eligible_accounts(
        session,
        agency_id=agency.id or 0,
        unit_ids=[units[i].id or 0 for i in sorted(target)],
        platform=platform,
    )
    assert set(got) == expected
    assert len(got) == len(expected)


def test_eligibility_is_one_query_however_many_asn(db: Engine, session: Session) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    for _ in range(5):
        make_asn(session, unit)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db, "before_cursor_execute", count)
    try:
        got = eligible_accounts(session, agency_id=agency.id or 0, unit_ids=[], platform="x")
    finally:
        event.remove(db, "before_cursor_execute", count)
    assert len(got) == 5
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
