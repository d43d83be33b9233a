"""The inbox notice telling an active ASN why an account gets no assignments (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from roster.models import Agency, Asn, AsnStatus, SocialAccount
from tests.factories import make_agency, make_asn, make_unit
from tests.web.conftest import login_asn
from web import eligibility_notice

EN = {"Accept-Language": "en"}
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)  # the next daily refresh: 19:00 UTC


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eligibility_notice, "utcnow", lambda: NOW)


@pytest.fixture
def agency(session: Session) -> Agency:
    agency = make_agency(session)
    agency.min_followers = {"x": 800}  # stricter than the instance's 500
    agency.timezone = "Asia/Jayapura"
    session.add(agency)
    session.commit()
    return agency


def _account(session: Session, asn: Asn, platform: str, **values: object) -> SocialAccount:
    account = session.exec(
        select(SocialAccount).where(
            SocialAccount.asn_id == asn.id, SocialAccount.platform == platform
        )
    ).one()
    for name, value in values.items():
        setattr(account, name, value)
    session.add(account)
    session.commit()
    return account


def _notice(client: TestClient, headers: dict[str, str] | None = None) -> str:
    page = client.get("/inbox", headers=headers or EN)
    assert page.status_code == 200
    start = page.text.find('<section class="notice eligibility"')
    return "" if start < 0 else page.text[start : page.text.index("</section>", start)]


def test_below_the_minimum_says_the_count_the_minimum_and_the_next_count_in_the_agencys_zone(
    client: TestClient, session: Session, agency: Agency
) -> None:
    asn = make_asn(session, make_unit(session, agency), followers=799)  # X: 1 short of 800
    _account(session, asn, "instagram", followers=0, followers_at=None)
    login_asn(client, asn)

    notice = _notice(client)
    assert "Some of your accounts get no assignments" in notice  # Facebook (799 >= 500) does
    x = f"asn{asn.name.split()[-1]}_x"
    assert (
        f"Your X account @{x} has 799 followers. "
        "Assignments on X go to accounts with at least 800 followers." in notice
    )
    assert "We have not read the follower count of your Instagram account" in notice
    # 19:00 UTC is 04:00 the next day in Jayapura (WIT).
    assert notice.count("Followers are counted again on 6 December 2026 04:00 WIT.") == 2
    assert "Facebook" not in notice

    indonesian = _notice(client, {"Accept-Language": "id"})
    assert "799" in indonesian
    assert "800" in indonesian
    assert "6 Desember 2026 04:00 WIT" in indonesian
    assert "Assignments on" not in indonesian


def test_exactly_at_the_minimum_there_is_no_notice(
    client: TestClient, session: Session, agency: Agency
) -> None:
    asn = make_asn(session, make_unit(session, agency), followers=800)
    login_asn(client, asn)
    assert _notice(client) == ""


def test_facebook_and_unverified_accounts_say_what_to_do(
    client: TestClient, session: Session, agency: Agency
) -> None:
    asn = make_asn(session, make_unit(session, agency), followers=100, platforms=["facebook"])
    other = make_asn(session, make_unit(session, agency), followers=5000, platforms=["x"])
    _account(session, other, "x", ownership_verified_at=None)
    login_asn(client, asn)
    notice = _notice(client)
    assert "You get no assignments at the moment" in notice
    assert "has 100 followers" in notice
    assert "at least 500 followers" in notice
    assert "Facebook follower counts are not read automatically" in notice

    login_asn(client, other)
    notice = _notice(client)
    assert "is not verified yet, so it gets no assignments" in notice
    assert 'href="/inbox/accounts"' in notice
    assert "5,000" not in notice  # the count does not matter until the account is proven


def test_no_consent_is_one_line_and_a_suspended_person_sees_no_inbox(
    client: TestClient, session: Session, agency: Agency
) -> None:
    unit = make_unit(session, agency)
    asn = make_asn(session, unit, followers=1, consent=False)
    login_asn(client, asn)
    notice = _notice(client)
    assert notice.count("<li") == 1
    assert "Humas has no record of your consent" in notice

    suspended = make_asn(session, unit, followers=1, status=AsnStatus.SUSPENDED)
    assert eligibility_notice.for_asn(session, suspended) is None  # not a follower matter
    client.cookies.clear()
    assert client.get("/inbox", follow_redirects=False).status_code in (302, 303, 307)


def test_a_regional_units_own_zone_wins_over_its_agencys(
    client: TestClient, session: Session, agency: Agency
) -> None:
    office = make_unit(session, agency, name="Kantor Wilayah Sulawesi")
    office.timezone = "Asia/Makassar"
    session.add(office)
    session.commit()
    login_asn(client, make_asn(session, office, followers=799))

    # 19:00 UTC is 03:00 the next day in Makassar (WITA), not 04:00 WIT as for the agency.
    assert "6 December 2026 03:00 WITA" in _notice(client)
