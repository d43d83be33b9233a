"""The public registry pages and badges: no sign-in, nothing personal, cacheable badges."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from roster.models import Asn, AsnStatus, SocialAccount
from tests.factories import make_agency, make_asn, make_unit


def _listed(session: Session, status: str = AsnStatus.ACTIVE) -> tuple[Asn, str]:
    agency = make_agency(session, slug="kominfo", name="Kementerian Kominfo")
    asn = make_asn(session, make_unit(session, agency), platforms=["x"], status=status)
    handle = session.exec(select(SocialAccount.handle).where(SocialAccount.asn_id == asn.id)).one()
    return asn, handle


def test_a_search_goes_to_the_accounts_entry(client: TestClient, session: Session) -> None:
    _, handle = _listed(session)
    response = client.get(
        "/registry",
        params={"platform": "x", "handle": f"https://x.com/{handle.upper()}"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/registry/x/{handle}"


def test_a_listed_entry_shows_agency_and_date_and_nothing_personal(
    client: TestClient, session: Session
) -> None:
    asn, handle = _listed(session)
    page = client.get(f"/registry/x/{handle}")
    assert page.status_code == 200
    assert "Kementerian Kominfo" in page.text
    assert f"/registry/badge/x/{handle}.svg" in page.text
    assert asn.name not in page.text
    assert str(asn.nip) not in page.text


def test_an_unlisted_account_answers_404_with_advice(client: TestClient, session: Session) -> None:
    _, handle = _listed(session, status=AsnStatus.SUSPENDED)
    page = client.get(f"/registry/x/{handle}")
    assert page.status_code == 404
    assert "Kementerian Kominfo" not in page.text
    assert client.get("/registry/myspace/someone").status_code == 404


def test_a_bad_search_is_explained(client: TestClient) -> None:
    page = client.get("/registry", params={"platform": "x", "handle": "no spaces allowed"})
    assert page.status_code == 400
    assert 'id="handle-error"' in page.text


def test_badges_are_cacheable_svg_and_tell_the_truth(client: TestClient, session: Session) -> None:
    _, handle = _listed(session)
    listed = client.get(f"/registry/badge/x/{handle}.svg")
    assert listed.status_code == 200
    assert listed.headers["content-type"].startswith("image/svg+xml")
    assert "max-age" in listed.headers["cache-control"]
    assert "KOMINFO" in listed.text
    fake = client.get("/registry/badge/x/look_alike_account.svg")
    assert fake.status_code == 200
    assert "KOMINFO" not in fake.text
    english = client.get("/registry/badge/x/look_alike_account.svg", params={"lang": "en"})
    assert "Not an official ASN account" in english.text


def test_the_registry_needs_no_sign_in(client: TestClient) -> None:
    page = client.get("/registry")
    assert page.status_code == 200
    assert 'name="handle"' in page.text
