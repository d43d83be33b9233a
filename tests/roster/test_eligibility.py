"""Eligibility: active, consenting ASN of the agency with a proven account over the minimum."""

from __future__ import annotations

from typing import TypedDict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from gaung.settings import get_settings
from roster.agencies import min_followers
from roster.eligibility import Standing, eligible_accounts, standings
from roster.models import AsnStatus, SocialAccount, Unit
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


# --- standings: the reason per account, from the same rules ---------------------------------


class AccountSpec(TypedDict):
    followers: int
    counted: bool
    verified: bool
    status: AsnStatus
    consent: bool


def _expected(spec: AccountSpec, minimum: int) -> Standing:
    """The rules as the README states them, written out by hand."""
    if spec["status"] != AsnStatus.ACTIVE:
        return Standing.INACTIVE
    if not spec["consent"]:
        return Standing.NO_CONSENT
    if not spec["verified"]:
        return Standing.NOT_VERIFIED
    if spec["followers"] >= minimum:
        return Standing.ELIGIBLE
    return Standing.BELOW_MINIMUM if spec["counted"] else Standing.NO_COUNT


def _make_account(session: Session, unit: Unit, platform: str, spec: AccountSpec) -> int:
    asn = make_asn(
        session,
        unit,
        followers=spec["followers"],
        platforms=[platform],
        status=spec["status"],
        consent=spec["consent"],
    )
    account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).one()
    if not spec["counted"]:
        account.followers_at = None
    if not spec["verified"]:
        account.ownership_verified_at = None
    session.add(account)
    session.commit()
    assert account.id is not None
    return account.id


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    own_minimum=st.one_of(st.none(), st.integers(min_value=0, max_value=2_000)),
    platform=st.sampled_from(["x", "facebook", "instagram"]),
    data=st.data(),
)
def test_standings_and_eligible_accounts_agree(
    session: Session, own_minimum: int | None, platform: str, data: st.DataObject
) -> None:
    agency = make_agency(session)
    if own_minimum is not None:
        agency.min_followers = {platform: own_minimum}
        session.add(agency)
        session.commit()
    minimum = min_followers(agency, platform)
    unit = make_unit(session, agency)
    around = st.sampled_from([0, max(minimum - 1, 0), minimum, minimum + 1])
    specs: list[AccountSpec] = data.draw(
        st.lists(
            st.builds(
                AccountSpec,
                followers=st.one_of(around, st.integers(min_value=0, max_value=3_000)),
                counted=st.booleans(),
                verified=st.booleans(),
                status=st.sampled_from(list(AsnStatus)),
                consent=st.booleans(),
            ),
            max_size=6,
        )
    )
    expected = {_make_account(session, unit, platform, spec): spec for spec in specs}

    found = standings(session, agency_id=agency.id or 0)
    assert {k: v.standing for k, v in found.items()} == {
        k: _expected(spec, minimum) for k, spec in expected.items()
    }
    assert all(s.minimum == minimum for s in found.values())
    agency_id = agency.id or 0
    dispatched = eligible_accounts(session, agency_id=agency_id, unit_ids=[], platform=platform)
    assert {account for _, _, account in dispatched} == {k for k, s in found.items() if s.eligible}


def test_standing_at_the_edges(session: Session) -> None:
    agency = make_agency(session)
    agency.min_followers = {"x": 800}  # stricter than the instance's 500
    session.add(agency)
    session.commit()
    unit = make_unit(session, agency)
    base: AccountSpec = {
        "followers": 800,
        "counted": True,
        "verified": True,
        "status": AsnStatus.ACTIVE,
        "consent": True,
    }
    exactly = _make_account(session, unit, "x", base)
    one_short = _make_account(session, unit, "x", {**base, "followers": 799})
    never_counted = _make_account(session, unit, "x", {**base, "followers": 0, "counted": False})
    imported = _make_account(session, unit, "x", {**base, "followers": 900, "counted": False})
    suspended = _make_account(session, unit, "x", {**base, "status": AsnStatus.SUSPENDED})
    unproven = _make_account(session, unit, "x", {**base, "verified": False, "followers": 0})
    instagram = _make_account(session, unit, "instagram", {**base, "followers": 500})

    found = standings(session, agency_id=agency.id or 0)
    assert found[exactly].standing == Standing.ELIGIBLE
    assert found[exactly].minimum == 800
    assert found[one_short].standing == Standing.BELOW_MINIMUM
    assert (found[one_short].followers, found[one_short].minimum) == (799, 800)
    assert found[never_counted].standing == Standing.NO_COUNT
    assert found[imported].standing == Standing.ELIGIBLE
    assert found[suspended].standing == Standing.INACTIVE
    assert found[unproven].standing == Standing.NOT_VERIFIED  # the first failed rule wins
    assert found[instagram].standing == Standing.ELIGIBLE  # the instance's 500 there
    assert found[instagram].minimum == 500

    one = standings(session, agency_id=agency.id or 0, asn_ids=[found[exactly].asn_id])
    assert list(one) == [exactly]
    assert standings(session, agency_id=agency.id or 0, asn_ids=[]) == {}
    other = make_agency(session)
    assert standings(session, agency_id=other.id or 0, asn_ids=[found[exactly].asn_id]) == {}
