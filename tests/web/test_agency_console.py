"""/console/agency: the admin's settings form, the logo through content.media, bad input."""

from __future__ import annotations

from io import BytesIO

from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session, select

from kernel.audit import AuditLog
from roster.models import Role
from tests.factories import make_agency, make_asn, make_unit, make_user
from tests.web.conftest import csrf_from, login_asn, login_staff


def _png() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (40, 20), "navy").save(buffer, format="PNG")
    return buffer.getvalue()


def _save(
    client: TestClient, files: dict[str, tuple[str, bytes, str]] | None = None, **data: str
) -> str:
    form = {"csrf_token": csrf_from(client, "/console/agency"), "name": "Kominfo", **data}
    response = client.post("/console/agency", data=form, files=files or {})
    return f"{response.status_code}\n{response.text}"


def test_only_the_admin_opens_agency_settings(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session), Role.SUPERVISOR))
    assert client.get("/console/agency").status_code == 403


def test_settings_and_logo_are_saved(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    login_staff(client, make_user(session, agency, Role.ADMIN))
    text = _save(
        client,
        files={"logo": ("logo.png", _png(), "image/png")},
        timezone="Asia/Jayapura",
        disclosure_tag="#InfoKominfo",
        default_deadline_hours="24",
        min_followers_x="1000",
        require_two_factor="on",
    )
    assert text.startswith("200"), text[:300]
    session.refresh(agency)
    assert agency.logo
    assert agency.logo.endswith(".png")
    assert agency.timezone == "Asia/Jayapura"
    assert agency.min_followers == {"x": 1000}
    assert agency.require_two_factor
    assert f'src="/media/{agency.logo}"' in text
    assert client.get(f"/media/{agency.logo}").status_code == 200
    assert session.exec(
        select(AuditLog).where(AuditLog.action == "agency.settings_changed")
    ).first()


def test_bad_input_is_shown_at_its_field(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    login_staff(client, make_user(session, agency, Role.ADMIN))
    not_image = _save(client, files={"logo": ("logo.png", b"not an image", "image/png")})
    assert not_image.startswith("400")
    assert 'id="logo-error"' in not_image
    too_loose = _save(client, min_followers_instagram="10")
    assert too_loose.startswith("400")
    assert 'id="min_followers_instagram-error"' in too_loose
    assert 'value="10"' in too_loose  # what was typed is kept
    bad_tag = _save(client, disclosure_tag="bukan tagar")
    assert 'id="disclosure_tag-error"' in bad_tag
    session.refresh(agency)
    assert agency.min_followers is None


def test_an_admin_sets_a_regional_units_own_zone_and_its_asn_see_it(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    office = make_unit(session, agency, name="Kantor Wilayah Papua")
    asn = make_asn(session, office)
    login_staff(client, make_user(session, agency, Role.ADMIN))
    assert "Kantor Wilayah Papua" in client.get("/console/agency").text

    token = csrf_from(client, "/console/agency")
    path = f"/console/agency/units/{office.id}/zone"
    wrong = client.post(path, data={"csrf_token": token, "timezone": "Europe/Paris"})
    assert wrong.status_code == 400
    saved = client.post(path, data={"csrf_token": token, "timezone": "Asia/Jayapura"})
    assert saved.status_code == 200

    session.refresh(office)
    assert office.timezone == "Asia/Jayapura"
    assert session.exec(select(AuditLog).where(AuditLog.action == "unit.zone_changed")).first()
    client.cookies.clear()
    login_asn(client, asn)
    assert client.get("/inbox").status_code == 200


def test_another_agencys_unit_zone_cannot_be_changed(client: TestClient, session: Session) -> None:
    office = make_unit(session, make_agency(session))
    login_staff(client, make_user(session, make_agency(session), Role.ADMIN))
    token = csrf_from(client, "/console/agency")
    response = client.post(
        f"/console/agency/units/{office.id}/zone",
        data={"csrf_token": token, "timezone": "Asia/Jayapura"},
    )
    assert response.status_code == 404
    session.refresh(office)
    assert office.timezone is None
