"""Sessions end on the server: absolute age, idle time, sign-out, password change,
deactivation. Cookies are HttpOnly and SameSite=Lax, Secure (with HSTS) over https."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from gaung.settings import get_settings
from roster.models import User
from roster.security import hash_password
from tests.factories import make_agency, make_asn, make_unit, make_user
from tests.web.conftest import csrf_from, login_asn, login_staff
from web import deps
from web.app import create_app
from web.headers import STRICT_TRANSPORT_SECURITY

MAX_AGE, IDLE = 12 * 3600, 2 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(deps, "now_seconds", fake)
    auth = get_settings().auth
    monkeypatch.setattr(auth, "session_max_age_seconds", MAX_AGE)
    monkeypatch.setattr(auth, "session_idle_seconds", IDLE)
    return fake


def _signed_in(client: TestClient) -> bool:
    response: Response = client.get("/console", follow_redirects=False)
    return response.status_code == 200


def _editor(session: Session) -> User:
    return make_user(session, make_agency(session))


def test_a_session_used_steadily_still_ends_at_its_absolute_age(
    client: TestClient, session: Session, clock: Clock
) -> None:
    login_staff(client, _editor(session))
    while clock.now + IDLE // 2 < 1_900_000_000 + MAX_AGE:
        clock.now += IDLE // 2
        assert _signed_in(client)
    clock.now = 1_900_000_000 + MAX_AGE + 1
    assert not _signed_in(client)


def test_an_idle_session_ends(client: TestClient, session: Session, clock: Clock) -> None:
    login_staff(client, _editor(session))
    clock.now += IDLE - 1
    assert _signed_in(client)
    clock.now += IDLE + 1
    response = client.get("/console", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_a_copied_cookie_is_refused_after_the_session_expired(
    client: TestClient, session: Session, clock: Clock
) -> None:
    """The cookie itself stays validly signed; the server's own times end it."""
    login_staff(client, _editor(session))
    copied = client.cookies.get("gaung_session")
    clock.now += MAX_AGE + 1
    client.cookies.set("gaung_session", copied or "")
    assert not _signed_in(client)


def test_sign_out_ends_copies_of_the_session(client: TestClient, session: Session) -> None:
    login_staff(client, _editor(session))
    copied = client.cookies.get("gaung_session")
    token = csrf_from(client, "/console")
    client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert not _signed_in(client)
    client.cookies.set("gaung_session", copied or "")
    assert not _signed_in(client)


@pytest.mark.parametrize("change", ["password", "deactivate"])
def test_password_change_or_deactivation_ends_every_session(
    client: TestClient, session: Session, change: str
) -> None:
    editor = _editor(session)
    login_staff(client, editor)
    assert _signed_in(client)
    if change == "password":
        editor.password_hash = hash_password("a-brand-new-password")
    else:
        editor.active = False
    session.add(editor)
    session.commit()
    assert editor.session_epoch == 1
    assert not _signed_in(client)


def test_other_profile_edits_keep_the_session(client: TestClient, session: Session) -> None:
    editor = _editor(session)
    login_staff(client, editor)
    editor.name = "Siti Rahmawati"
    session.add(editor)
    session.commit()
    assert editor.session_epoch == 0
    assert _signed_in(client)


def test_an_asn_session_expires_too(client: TestClient, session: Session, clock: Clock) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    login_asn(client, asn)
    assert client.get("/inbox", follow_redirects=False).status_code == 200
    clock.now += IDLE + 1
    response = client.get("/inbox", follow_redirects=False)
    assert response.headers["location"] == "/inbox/login"


def test_the_session_cookie_is_http_only_and_same_site_lax(
    client: TestClient, session: Session
) -> None:
    response = client.get("/login")
    cookie = response.headers["set-cookie"].lower()
    assert "gaung_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # base_url is http in tests
    assert "strict-transport-security" not in response.headers


@pytest.fixture
def https_client(db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(get_settings(), "base_url", "https://gaung.kominfo.go.id")
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def test_over_https_cookies_are_secure_and_hsts_is_sent(https_client: TestClient) -> None:
    response = https_client.get("/login")
    assert "secure" in response.headers["set-cookie"].lower()
    assert response.headers["strict-transport-security"] == STRICT_TRANSPORT_SECURITY
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_secure_cookies_can_be_forced_behind_a_tls_proxy(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().auth, "secure_cookies", True)
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        assert "secure" in test_client.get("/login").headers["set-cookie"].lower()
