"""The ASN's data page: view, download as JSON, and leave (erasure) through the real app."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from roster import recognition
from roster.models import Asn, AsnStatus, SocialAccount
from roster.security import make_magic_token
from tests.factories import make_agency, make_asn, make_unit
from tests.web.conftest import csrf_from, login_asn


def _asn(session: Session) -> Asn:
    return make_asn(session, make_unit(session, make_agency(session)))


def test_the_page_shows_what_gaung_holds(client: TestClient, session: Session) -> None:
    asn = _asn(session)
    login_asn(client, asn)
    page = client.get("/inbox/privacy")
    assert page.status_code == 200
    assert asn.nip is not None
    assert asn.nip in page.text
    assert asn.name in page.text
    assert page.headers["cache-control"] == "no-store"


def test_the_page_shows_times_in_the_readers_zone_and_the_leaderboard_consent(
    client: TestClient, session: Session
) -> None:
    asn = _asn(session)
    asn.consent_at = datetime(2026, 12, 7, 1, 30, 59, tzinfo=UTC)
    session.add(asn)
    session.commit()
    login_asn(client, asn)
    before = client.get("/inbox/privacy").text
    assert "7 Des 2026 08.30 WIB" in before  # consent, shown in the ASN's zone without seconds
    assert "2026-12-07T01:30" not in before  # not the raw ISO text of the export
    assert "Papan peringkat: Anda belum bergabung." in before

    recognition.join(session, asn)
    after = client.get("/inbox/privacy").text
    assert "Papan peringkat: Anda bergabung pada" in after


def test_the_download_is_json_with_everything(client: TestClient, session: Session) -> None:
    asn = _asn(session)
    login_asn(client, asn)
    response = client.get("/inbox/privacy.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    data = json.loads(response.text)
    assert data["profile"]["nip"] == asn.nip
    assert len(data["accounts"]) == 3
    assert set(data) >= {"profile", "consent", "accounts", "assignments", "messages"}


def test_signed_out_people_get_the_sign_in_page(client: TestClient) -> None:
    for path in ("/inbox/privacy", "/inbox/privacy.json"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/inbox/login"


def test_leaving_needs_the_confirmation_box(client: TestClient, session: Session) -> None:
    asn = _asn(session)
    login_asn(client, asn)
    token = csrf_from(client, "/inbox/privacy")
    response = client.post("/inbox/leave", data={"csrf_token": token})
    assert response.status_code == 400
    assert 'id="confirm-error"' in response.text
    session.refresh(asn)
    assert asn.status == AsnStatus.ACTIVE


def test_leaving_erases_and_ends_every_session_and_link(
    client: TestClient, session: Session
) -> None:
    asn = _asn(session)
    old_link = make_magic_token(asn.id or 0, asn.login_epoch)
    login_asn(client, asn)
    token = csrf_from(client, "/inbox/privacy")
    response = client.post("/inbox/leave", data={"csrf_token": token, "confirm": "yes"})
    assert response.status_code == 200
    session.expire_all()
    gone = session.get_one(Asn, asn.id)
    assert gone.status == AsnStatus.LEFT
    assert gone.nip is None
    assert session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).all() == []
    assert client.get("/inbox/privacy", follow_redirects=False).status_code == 303
    assert client.get(f"/inbox/login/{old_link}", follow_redirects=False).status_code == 400


def test_leaving_needs_the_csrf_token(client: TestClient, session: Session) -> None:
    asn = _asn(session)
    login_asn(client, asn)
    assert client.post("/inbox/leave", data={"confirm": "yes"}).status_code == 403
