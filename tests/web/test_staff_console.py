"""/console/staff: invite, roles, deactivation (ending sessions), reset links; admins only."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from gaung.settings import get_settings
from kernel.models import WorkItem
from roster.models import Role, User
from tests.factories import make_agency, make_user
from tests.web.conftest import csrf_from, login_staff
from web.app import create_app

STRONG = "kopi tubruk di pagi hujan"
_LINK = re.compile(r'value="(http://testserver/account/set-password/[^"]+)"')


@pytest.fixture
def no_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings().smtp, "host", "")


def _post(client: TestClient, path: str, **data: str) -> str:
    token = csrf_from(client, "/console/staff")
    response = client.post(path, data={"csrf_token": token, **data}, follow_redirects=True)
    return f"{response.status_code}\n{response.text}"


def test_only_admins_open_the_staff_page(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    login_staff(client, make_user(session, agency, Role.APPROVER))
    assert client.get("/console/staff").status_code == 403


def test_an_invited_member_sets_a_password_through_the_shown_link(
    client: TestClient, session: Session, no_mail: None
) -> None:
    agency = make_agency(session)
    login_staff(client, make_user(session, agency, Role.ADMIN))
    token = csrf_from(client, "/console/staff")
    response = client.post(
        "/console/staff",
        data={"csrf_token": token, "email": "Dewi@Kominfo.go.id", "name": "Dewi", "role": "editor"},
    )
    assert response.status_code == 200
    found = _LINK.search(response.text)
    assert found, response.text
    dewi = session.exec(select(User).where(User.email == "dewi@kominfo.go.id")).one()
    assert dewi.role == Role.EDITOR
    with TestClient(create_app()) as newcomer:
        page = newcomer.get(found.group(1))
        assert page.status_code == 200
        assert "dewi@kominfo.go.id" in page.text
        form = {"csrf_token": csrf_from(newcomer, found.group(1))}
        weak = newcomer.post(
            found.group(1),
            data={**form, "new_password": "password1234", "confirm_password": "password1234"},
        )
        assert weak.status_code == 400
        assert 'id="password-error"' in weak.text
        done = newcomer.post(
            found.group(1), data={**form, "new_password": STRONG, "confirm_password": STRONG}
        )
        assert done.status_code == 200
        assert newcomer.get(found.group(1)).status_code == 400  # used
        login_staff(newcomer, dewi, STRONG)


def test_with_mail_the_invitation_is_queued_not_shown(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    login_staff(client, make_user(session, agency, Role.ADMIN))
    text = _post(client, "/console/staff", email="eko@kominfo.go.id", name="Eko", role="approver")
    assert "set-password" not in text
    assert "eko@kominfo.go.id" in text
    assert session.exec(select(WorkItem).where(WorkItem.kind == "staff_mail")).one()


def test_bad_invitations_name_the_field(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    login_staff(client, make_user(session, agency, Role.ADMIN))
    text = _post(client, "/console/staff", email="bukan-email", name="X", role="editor")
    assert text.startswith("400")
    assert 'id="email-error"' in text


def test_deactivation_signs_the_person_out_at_once(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    with TestClient(create_app()) as editors_browser:
        login_staff(editors_browser, editor)
        assert editors_browser.get("/console").status_code == 200
        login_staff(client, make_user(session, agency, Role.ADMIN))
        text = _post(client, f"/console/staff/{editor.id}/deactivate")
        assert text.startswith("200")
        response = editors_browser.get("/console", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
        token = csrf_from(editors_browser, "/login")
        again = editors_browser.post(
            "/login",
            data={"email": editor.email, "password": "rahasia-gaung-123", "csrf_token": token},
        )
        assert again.status_code == 400


def test_the_last_admin_cannot_demote_themselves(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    login_staff(client, admin)
    text = _post(client, f"/console/staff/{admin.id}/role", role="editor")
    assert text.startswith("400")
    assert "terakhir" in text  # Indonesian: the last active admin
    session.refresh(admin)
    assert admin.role == Role.ADMIN


def test_roles_change_and_another_agencys_staff_is_not_found(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    outsider = make_user(session, make_agency(session))
    login_staff(client, make_user(session, agency, Role.ADMIN))
    assert _post(client, f"/console/staff/{editor.id}/role", role="supervisor").startswith("200")
    session.refresh(editor)
    assert editor.role == Role.SUPERVISOR
    assert _post(client, f"/console/staff/{outsider.id}/deactivate").startswith("404")


def test_a_reset_link_is_shown_without_mail(
    client: TestClient, session: Session, no_mail: None
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    login_staff(client, make_user(session, agency, Role.ADMIN))
    text = _post(client, f"/console/staff/{editor.id}/reset")
    assert _LINK.search(text)
