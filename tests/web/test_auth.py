"""Staff sign-in with a password, ASN sign-in with a magic link, sign-out."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from roster.models import AsnStatus, Role
from roster.security import make_magic_token
from tests.factories import PASSWORD, make_agency, make_asn, make_unit, make_user
from tests.web.conftest import csrf_from, login_asn, login_staff
from web.auth import safe_next

GENERIC = "Surel atau kata sandi salah."


def _post_login(client: TestClient, email: str, password: str, next_: str = "/") -> Response:
    token = csrf_from(client, "/login")
    response: Response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_},
        follow_redirects=False,
    )
    return response


def test_staff_signs_in_and_reaches_the_console(client: TestClient, session: Session) -> None:
    editor = make_user(session, make_agency(session))
    response = _post_login(client, editor.email.upper(), PASSWORD, "/console")
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    assert client.get("/console").status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_generic_answer(
    client: TestClient, session: Session
) -> None:
    editor = make_user(session, make_agency(session))
    wrong = _post_login(client, editor.email, "not-the-password")
    unknown = _post_login(client, "nobody@example.go.id", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert GENERIC in response.text
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_inactive_staff_cannot_sign_in(client: TestClient, session: Session) -> None:
    editor = make_user(session, make_agency(session))
    editor.active = False
    session.add(editor)
    session.commit()
    assert _post_login(client, editor.email, PASSWORD).status_code == 400


def test_sign_in_rotates_the_session(client: TestClient, session: Session) -> None:
    editor = make_user(session, make_agency(session))
    before = csrf_from(client, "/login")
    login_staff(client, editor)
    assert csrf_from(client, "/console") != before


def test_login_refuses_a_post_without_csrf_token(client: TestClient, session: Session) -> None:
    editor = make_user(session, make_agency(session))
    response = client.post("/login", data={"email": editor.email, "password": PASSWORD})
    assert response.status_code == 403


def test_login_never_redirects_off_site(client: TestClient, session: Session) -> None:
    editor = make_user(session, make_agency(session))
    response = _post_login(client, editor.email, PASSWORD, "//evil.example/steal")
    assert response.headers["location"] == "/"


@given(st.text(max_size=40))
def test_safe_next_only_returns_local_paths(target: str) -> None:
    result = safe_next(target)
    assert result == "/" or result == target
    assert result.startswith("/")
    assert not result.startswith("//")
    assert "\\" not in result
    assert "\n" not in result


def test_logout_needs_csrf_and_then_signs_out(client: TestClient, session: Session) -> None:
    editor = make_user(session, make_agency(session))
    login_staff(client, editor)
    assert client.post("/logout").status_code == 403
    token = csrf_from(client, "/console")
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_unauthenticated_console_redirects_to_login_with_next(client: TestClient) -> None:
    response = client.get("/console/approvals?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fconsole%2Fapprovals%3Fx%3D1"


def test_magic_link_signs_an_active_asn_in(client: TestClient, session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    login_asn(client, asn)
    assert client.get("/", follow_redirects=False).headers["location"] == "/inbox"


def test_magic_link_is_refused_after_the_epoch_is_bumped(
    client: TestClient, session: Session
) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    assert asn.id is not None
    token = make_magic_token(asn.id, asn.login_epoch)
    asn.login_epoch += 1
    session.add(asn)
    session.commit()
    response = client.get(f"/inbox/login/{token}", follow_redirects=False)
    assert response.status_code == 400
    assert "tautan" in response.text.lower()


def test_magic_link_is_refused_for_a_suspended_asn(client: TestClient, session: Session) -> None:
    unit = make_unit(session, make_agency(session))
    asn = make_asn(session, unit, status=AsnStatus.SUSPENDED)
    assert asn.id is not None
    token = make_magic_token(asn.id, asn.login_epoch)
    assert client.get(f"/inbox/login/{token}", follow_redirects=False).status_code == 400


def test_a_forged_magic_token_is_refused(client: TestClient) -> None:
    response = client.get("/inbox/login/not-a-real-token", follow_redirects=False)
    assert response.status_code == 400


def test_inbox_login_page_explains_the_link(client: TestClient) -> None:
    response = client.get("/inbox/login", headers={"accept-language": "en"})
    assert response.status_code == 200
    assert "assignment message" in response.text


def test_supervisor_home_is_the_dashboard(client: TestClient, session: Session) -> None:
    supervisor = make_user(session, make_agency(session), role=Role.SUPERVISOR)
    login_staff(client, supervisor)
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard"


def test_home_keeps_an_enrolling_asn_signed_in_on_their_enrolment_page(
    client: TestClient, session: Session
) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    asn.status = AsnStatus.PENDING
    session.add(asn)
    session.commit()
    assert asn.id is not None
    landing = client.get(f"/inbox/login/{make_magic_token(asn.id, 0)}", follow_redirects=False)
    assert landing.headers["location"] == "/inbox/accounts"

    assert client.get("/", follow_redirects=False).headers["location"] == "/inbox/accounts"
    assert client.get("/inbox/accounts").status_code == 200
