"""An ASN's inbox session ends on the server: their own sign-out, and Humas's revocation."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from kernel.audit import AuditLog
from roster.models import Asn, AsnStatus, Role
from roster.security import make_magic_token
from tests.factories import make_agency, make_asn, make_unit, make_user
from tests.web.conftest import csrf_from, login_asn, login_staff


def _inbox_open(client: TestClient) -> bool:
    response: httpx.Response = client.get("/inbox", follow_redirects=False)
    return response.status_code == 200


def test_signing_out_ends_a_copy_of_the_session_but_keeps_the_links_working(
    client: TestClient, session: Session
) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    link = make_magic_token(asn.id or 0, asn.login_epoch)
    login_asn(client, asn)
    copied = dict(client.cookies)  # someone copied the cookie off a shared phone
    assert 'action="/inbox/logout"' in client.get("/inbox").text

    token = csrf_from(client, "/inbox")
    response = client.post("/inbox/logout", data={"csrf_token": token}, follow_redirects=False)

    assert response.headers["location"] == "/inbox/login"
    assert not _inbox_open(client)
    client.cookies.update(copied)
    assert not _inbox_open(client)
    # The links in the ASN's messages still sign them in again.
    client.cookies.clear()
    again = client.get(f"/inbox/login/{link}", follow_redirects=False)
    assert again.status_code == 303
    assert _inbox_open(client)


def test_signing_out_needs_the_form_token(client: TestClient, session: Session) -> None:
    login_asn(client, make_asn(session, make_unit(session, make_agency(session))))
    assert client.post("/inbox/logout", data={}).status_code == 403
    assert _inbox_open(client)


def test_humas_revokes_every_link_and_session_without_suspending(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    asn = make_asn(session, make_unit(session, agency))
    old_link = make_magic_token(asn.id or 0, asn.login_epoch)
    phone = TestClient(client.app)
    login_asn(phone, asn)  # the lost phone, still signed in
    login_staff(client, make_user(session, agency, Role.EDITOR))

    token = csrf_from(client, f"/console/asn/{asn.id}")
    client.post(f"/console/asn/{asn.id}/revoke-sign-in", data={"csrf_token": token})

    assert not _inbox_open(phone)
    refused: httpx.Response = phone.get(f"/inbox/login/{old_link}", follow_redirects=False)
    assert refused.status_code == 400
    session.expire_all()
    stored = session.get_one(Asn, asn.id)
    assert stored.status == AsnStatus.ACTIVE
    new_link = make_magic_token(asn.id or 0, stored.login_epoch)
    assert phone.get(f"/inbox/login/{new_link}", follow_redirects=False).status_code == 303
    entries = session.exec(select(AuditLog).where(col(AuditLog.action) == "asn.sign_in_revoked"))
    assert [entry.entity_id for entry in entries] == [asn.id]


def test_another_agency_cannot_revoke_an_asn(client: TestClient, session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    login_staff(client, make_user(session, make_agency(session), Role.EDITOR))
    token = csrf_from(client, "/console")
    response = client.post(f"/console/asn/{asn.id}/revoke-sign-in", data={"csrf_token": token})
    assert response.status_code == 404
    session.expire_all()
    assert session.get_one(Asn, asn.id).login_epoch == asn.login_epoch
