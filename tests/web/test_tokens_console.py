"""Console → API tokens: the token is shown once, stored hashed, and revoked at once."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from roster import api_tokens
from roster.models import Role
from tests.factories import make_agency, make_user
from tests.web.conftest import csrf_from, login_staff

_SECRET = re.compile(r"gaung_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_create_use_and_revoke_a_token(client: TestClient, session: Session) -> None:
    editor = make_user(session, make_agency(session), Role.EDITOR)
    login_staff(client, editor)
    token = csrf_from(client, "/console/tokens")
    page = client.post(
        "/console/tokens", data={"name": "Situs web", "expires_days": "30", "csrf_token": token}
    )
    assert page.status_code == 200
    [secret] = _SECRET.findall(page.text)
    assert secret not in client.get("/console/tokens").text  # shown once
    row = session.exec(select(api_tokens.ApiToken)).one()
    assert row.user_id == editor.id
    assert row.expires_at is not None

    bearer = {"Authorization": f"Bearer {secret}"}
    cookies = dict(client.cookies)
    client.cookies.clear()
    assert client.get("/api/campaigns", headers=bearer).status_code == 200
    client.cookies.update(cookies)
    response = client.post(
        f"/console/tokens/{row.id}/revoke", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    client.cookies.clear()
    assert client.get("/api/campaigns", headers=bearer).status_code == 401


def test_a_bad_name_is_shown_next_to_the_field(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session)))
    token = csrf_from(client, "/console/tokens")
    page = client.post("/console/tokens", data={"name": " ", "csrf_token": token})
    assert page.status_code == 400
    assert 'id="name-error"' in page.text
    assert session.exec(select(api_tokens.ApiToken)).all() == []


def test_people_see_their_own_tokens_and_admins_their_agencys(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    editor, colleague = make_user(session, agency), make_user(session, agency)
    admin = make_user(session, agency, Role.ADMIN)
    theirs = api_tokens.create_token(session, colleague, name="Milik rekan").token
    login_staff(client, editor)
    token = csrf_from(client, "/console/tokens")
    assert "Milik rekan" not in client.get("/console/tokens").text
    response = client.post(f"/console/tokens/{theirs.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 404
    client.cookies.clear()
    login_staff(client, admin)
    assert "Milik rekan" in client.get("/console/tokens").text
