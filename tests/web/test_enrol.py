"""The public enrolment form and the ASN's accounts page, through the real app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from gaung.settings import WebhookSettings, get_settings
from kernel.models import WorkItem
from roster import enrolment, invitations
from roster.models import (
    Agency,
    Asn,
    AsnStatus,
    Invitation,
    OwnershipCheck,
    OwnershipState,
    Role,
    SocialAccount,
    Unit,
)
from roster.security import make_magic_token
from tests.factories import make_agency, make_asn, make_unit, make_user
from tests.roster.helpers import VALID_NIP
from tests.web.conftest import csrf_from, login_asn

EN = {"Accept-Language": "en"}


@pytest.fixture
def link(session: Session) -> Invitation:
    agency = make_agency(session, name="Kementerian Komunikasi")
    make_unit(session, agency, "Biro Humas")
    editor = make_user(session, agency, Role.EDITOR)
    return invitations.create_invitation(session, editor)


def _fields(session: Session, link: Invitation, **changes: str) -> dict[str, Any]:
    unit = session.exec(select(Unit).where(Unit.agency_id == link.agency_id)).first()
    assert unit is not None
    data = {
        "nip": "19850315 201001 2 003",
        "name": "Siti Rahayu",
        "unit_id": str(unit.id),
        "messenger": "email",
        "email": "siti@example.go.id",
        "phone": "",
        "x_handle": "@siti_rahayu",
        "facebook_handle": "",
        "instagram_handle": "",
        "consent": "yes",
        "consent_version": enrolment.CONSENT_VERSION,
    }
    data.update(changes)
    return data


def _submit(client: TestClient, session: Session, link: Invitation, **changes: str) -> Any:
    token = csrf_from(client, f"/enrol/{link.token}")
    data = {**_fields(session, link, **changes), "csrf_token": token}
    return client.post(f"/enrol/{link.token}", data=data, follow_redirects=False)


def test_the_form_shows_the_agency_units_and_the_versioned_consent(
    client: TestClient, link: Invitation
) -> None:
    page = client.get(f"/enrol/{link.token}")
    assert page.status_code == 200
    assert "Kementerian Komunikasi" in page.text
    assert "Biro Humas" in page.text
    assert f'value="{enrolment.CONSENT_VERSION}"' in page.text
    assert 'name="consent"' in page.text
    assert "<script>" not in page.text  # strict CSP: no inline script


def test_the_sms_gateway_is_offered_only_once_the_agency_sets_it_up(
    client: TestClient, link: Invitation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook", WebhookSettings())
    page = client.get(f"/enrol/{link.token}", headers=EN).text
    assert 'value="webhook"' not in page
    assert 'value="email"' in page

    configured = WebhookSettings(url="https://sms.kominfo.go.id/send")
    monkeypatch.setattr(get_settings(), "webhook", configured)
    page = client.get(f"/enrol/{link.token}", headers=EN).text
    assert re.search(r'value="webhook"\s*> SMS \(agency gateway\)<', page)
    assert "Mobile number (WhatsApp or SMS)" in page


def test_enrolling_by_sms_needs_a_phone_number(
    client: TestClient, session: Session, link: Invitation, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = WebhookSettings(url="https://sms.kominfo.go.id/send")
    monkeypatch.setattr(get_settings(), "webhook", configured)

    refused = _submit(client, session, link, messenger="webhook", phone="")
    enrolled = _submit(client, session, link, messenger="webhook", phone="0812 3456 7890")

    assert refused.status_code == 400
    assert 'id="phone-error"' in refused.text
    assert "SMS (gateway instansi Anda)" in refused.text
    assert enrolled.status_code == 303
    asn = session.exec(select(Asn).where(Asn.nip == VALID_NIP)).one()
    assert (asn.messenger, asn.phone) == ("webhook", "+6281234567890")


def test_enrolling_signs_the_person_in_and_shows_their_codes(
    client: TestClient, session: Session, link: Invitation
) -> None:
    response = _submit(client, session, link)
    assert response.status_code == 303
    assert response.headers["location"] == "/inbox/accounts"
    asn = session.exec(select(Asn).where(Asn.nip == VALID_NIP)).one()
    assert asn.status == AsnStatus.PENDING
    page = client.get("/inbox/accounts")
    assert page.status_code == 200
    code = session.exec(select(OwnershipCheck.code)).one()
    assert code in page.text
    assert "@siti_rahayu" in page.text
    # Pending people have no assignment inbox yet; their menu does not offer it.
    assert 'href="/inbox"' not in page.text


def test_without_the_consent_box_the_form_comes_back_with_the_reason(
    client: TestClient, session: Session, link: Invitation
) -> None:
    response = _submit(client, session, link, consent="")
    assert response.status_code == 400
    assert 'id="consent-error"' in response.text
    assert 'value="Siti Rahayu"' in response.text  # what was typed is kept
    assert session.exec(select(Asn)).all() == []


def test_a_bad_nip_is_explained_next_to_the_field(
    client: TestClient, session: Session, link: Invitation
) -> None:
    response = _submit(client, session, link, nip="198513152010012003")
    assert response.status_code == 400
    assert 'id="nip-error"' in response.text
    assert 'aria-invalid="true" aria-describedby="nip-error"' in response.text


def test_an_unknown_or_revoked_link_is_not_found(
    client: TestClient, session: Session, link: Invitation
) -> None:
    assert client.get("/enrol/nope").status_code == 404
    link.revoked_at = link.created_at
    session.add(link)
    session.commit()
    assert client.get(f"/enrol/{link.token}").status_code == 404


def test_the_form_refuses_a_post_without_the_csrf_token(
    client: TestClient, session: Session, link: Invitation
) -> None:
    response = client.post(f"/enrol/{link.token}", data=_fields(session, link))
    assert response.status_code == 403


def test_check_queues_a_job_and_never_calls_the_platform_in_the_request(
    client: TestClient, session: Session, link: Invitation
) -> None:
    _submit(client, session, link)
    account = session.exec(select(SocialAccount)).one()
    token = csrf_from(client, "/inbox/accounts")
    response = client.post(
        f"/inbox/accounts/{account.id}/check", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    item = session.exec(select(WorkItem)).one()
    assert item.kind == "ownership_check"
    session.expire_all()
    check = session.exec(select(OwnershipCheck)).one()
    assert check.state == OwnershipState.CHECKING
    assert "disabled" in client.get("/inbox/accounts").text


def test_a_new_code_replaces_the_old_one(
    client: TestClient, session: Session, link: Invitation
) -> None:
    _submit(client, session, link)
    old = session.exec(select(OwnershipCheck.code)).one()
    account = session.exec(select(SocialAccount)).one()
    token = csrf_from(client, "/inbox/accounts")
    client.post(f"/inbox/accounts/{account.id}/code", data={"csrf_token": token})
    session.expire_all()
    new = session.exec(select(OwnershipCheck.code)).one()
    assert new != old
    assert new in client.get("/inbox/accounts").text


def test_someone_elses_account_answers_404(
    client: TestClient, session: Session, link: Invitation
) -> None:
    other = make_asn(session, make_unit(session, make_agency(session)), platforms=["x"])
    theirs = session.exec(select(SocialAccount).where(SocialAccount.asn_id == other.id)).one()
    _submit(client, session, link)
    token = csrf_from(client, "/inbox/accounts")
    response = client.post(f"/inbox/accounts/{theirs.id}/check", data={"csrf_token": token})
    assert response.status_code == 404


def test_a_pending_person_comes_back_through_their_magic_link(
    client: TestClient, session: Session, link: Invitation
) -> None:
    _submit(client, session, link)
    asn = session.exec(select(Asn)).one()
    client.cookies.clear()
    assert client.get("/inbox/accounts", follow_redirects=False).status_code == 303
    token = make_magic_token(asn.id or 0, asn.login_epoch)
    response = client.get(f"/inbox/login/{token}", follow_redirects=False)
    assert response.headers["location"] == "/inbox/accounts"
    assert client.get("/inbox/accounts").status_code == 200


def test_an_active_verified_asn_sees_their_badge_and_registry_link(
    client: TestClient, session: Session
) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)), platforms=["instagram"])
    handle = session.exec(select(SocialAccount.handle).where(SocialAccount.asn_id == asn.id)).one()
    login_asn(client, asn)
    page = client.get("/inbox/accounts")
    assert f"/registry/badge/instagram/{handle}.svg" in page.text
    assert f"http://testserver/registry/instagram/{handle}" in page.text
    assert 'data-copy="#entry-' in page.text


def test_the_inbox_links_to_accounts_and_privacy(client: TestClient, session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    login_asn(client, asn)
    page = client.get("/inbox")
    assert 'href="/inbox/accounts"' in page.text
    assert 'href="/inbox/privacy"' in page.text


def test_a_suspended_person_cannot_open_the_accounts_page(
    client: TestClient, session: Session
) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    login_asn(client, asn)
    asn.status = AsnStatus.SUSPENDED
    session.add(asn)
    session.commit()
    assert client.get("/inbox/accounts", follow_redirects=False).status_code == 303


def test_a_unit_link_shows_its_unit_instead_of_a_choice(
    client: TestClient, session: Session
) -> None:
    agency = session.exec(select(Agency)).first() or make_agency(session)
    unit = make_unit(session, agency, "Direktorat Khusus")
    make_unit(session, agency, "Biro Lain")
    link = invitations.create_invitation(session, make_user(session, agency), unit_id=unit.id)
    page = client.get(f"/enrol/{link.token}")
    assert "Direktorat Khusus" in page.text
    assert "Biro Lain" not in page.text
    assert 'name="unit_id"' not in page.text


def _minimum_texts(page: str) -> list[str]:
    return re.findall(r'<p class="hint minimum">([^<]*)</p>', page)


def test_the_form_shows_the_agencys_follower_minimum_per_platform(
    client: TestClient, session: Session, link: Invitation
) -> None:
    agency = session.get(Agency, link.agency_id)
    assert agency is not None
    # X stricter than the instance's 500; a lower Instagram minimum cannot undercut it.
    agency.min_followers = {"x": 1200, "instagram": 100}
    session.add(agency)
    session.commit()

    page = client.get(f"/enrol/{link.token}", headers=EN)
    assert _minimum_texts(page.text) == [
        "Assignments on X go to accounts with at least 1,200 followers.",
        "Assignments on Facebook go to accounts with at least 500 followers.",
        "Assignments on Instagram go to accounts with at least 500 followers.",
    ]
    indonesian = client.get(f"/enrol/{link.token}", headers={"Accept-Language": "id"})
    assert "1.200" in _minimum_texts(indonesian.text)[0]
    assert "Assignments on" not in indonesian.text

    # A refused submission shows the minimums again, next to the fields to correct.
    refused = _submit(client, session, link, consent="")
    assert refused.status_code == 400
    assert len(_minimum_texts(refused.text)) == 3
