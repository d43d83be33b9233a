"""/console/account and the second sign-in step: password change, TOTP set-up and sign-in,
an agency that requires a second factor, and the known-device exception to lockouts."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from gaung.settings import get_settings
from roster import staff, two_factor
from roster.models import Agency, Role, User
from tests.factories import PASSWORD, make_agency, make_user
from tests.web.conftest import csrf_from, login_staff
from web.app import create_app

STRONG = "kopi tubruk di pagi hujan"
_SECRET = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')


def _form(client: TestClient, path: str, page: str = "/console/account", **data: str) -> Response:
    token = csrf_from(client, page)
    response: Response = client.post(path, data={"csrf_token": token, **data})
    return response


def _password_step(client: TestClient, user: User, password: str = PASSWORD) -> Response:
    token = csrf_from(client, "/login")
    response: Response = client.post(
        "/login",
        data={"email": user.email, "password": password, "csrf_token": token, "next": "/console"},
        follow_redirects=False,
    )
    return response


def test_changing_the_password_ends_other_sessions_but_not_this_one(
    client: TestClient, session: Session
) -> None:
    user = make_user(session, make_agency(session))
    with TestClient(create_app()) as other_browser:
        login_staff(other_browser, user)
        login_staff(client, user)
        wrong = _form(
            client,
            "/console/account/password",
            current_password="salah-sekali",
            new_password=STRONG,
            confirm_password=STRONG,
        )
        assert wrong.status_code == 400
        assert 'id="current_password-error"' in wrong.text
        weak = _form(
            client,
            "/console/account/password",
            current_password=PASSWORD,
            new_password="iloveyou1234",
            confirm_password="iloveyou1234",
        )
        assert weak.status_code == 400
        assert 'id="new_password-error"' in weak.text
        done = _form(
            client,
            "/console/account/password",
            current_password=PASSWORD,
            new_password=STRONG,
            confirm_password=STRONG,
        )
        assert done.status_code == 200
        assert client.get("/console/account").status_code == 200
        gone = other_browser.get("/console/account", follow_redirects=False)
        assert gone.status_code == 303
    assert _password_step(TestClient(create_app()), user).status_code == 400
    assert _password_step(TestClient(create_app()), user, STRONG).status_code == 303


def test_two_factor_set_up_and_sign_in_with_codes(client: TestClient, session: Session) -> None:
    user = make_user(session, make_agency(session))
    login_staff(client, user)
    page = _form(client, "/console/account/two-factor/begin")
    secret = _SECRET.search(page.text)
    assert secret, page.text
    assert "<svg" in page.text
    totp = pyotp.TOTP(secret.group(1))
    assert _form(client, "/console/account/two-factor/confirm", code="000000").status_code == 400
    on = _form(client, "/console/account/two-factor/confirm", code=totp.now())
    assert on.status_code == 200
    session.refresh(user)
    assert two_factor.enabled(user)

    with TestClient(create_app()) as browser:
        step = _password_step(browser, user)
        assert step.headers["location"] == "/login/two-factor"
        # Not signed in yet.
        assert browser.get("/console", follow_redirects=False).status_code == 303
        token = csrf_from(browser, "/login/two-factor")
        reused = browser.post("/login/two-factor", data={"csrf_token": token, "code": totp.now()})
        assert reused.status_code == 400  # the code that turned it on
        following = totp.at(time.time() + 30)  # the next step: the first was used
        ok = browser.post(
            "/login/two-factor",
            data={"csrf_token": token, "code": following},
            follow_redirects=False,
        )
        assert ok.status_code == 303
        assert ok.headers["location"] == "/console"
        assert browser.get("/console").status_code == 200


def test_an_agency_requiring_two_factor_makes_an_approver_enrol_at_sign_in(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    agency.require_two_factor = True
    session.commit()
    approver = make_user(session, agency, Role.APPROVER)
    editor = make_user(session, agency, Role.EDITOR)
    assert _password_step(client, editor).headers["location"] == "/console"  # not required
    with TestClient(create_app()) as browser:
        step = _password_step(browser, approver)
        assert step.headers["location"] == "/login/two-factor/setup"
        page = browser.get("/login/two-factor/setup")
        secret = _SECRET.search(page.text)
        assert secret
        assert "<svg" in page.text
        token = csrf_from(browser, "/login/two-factor/setup")
        bad = browser.post("/login/two-factor/setup", data={"csrf_token": token, "code": "1"})
        assert bad.status_code == 400
        code = pyotp.TOTP(secret.group(1)).now()
        done = browser.post(
            "/login/two-factor/setup",
            data={"csrf_token": token, "code": code},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert browser.get("/console").status_code == 200
    session.refresh(approver)
    assert two_factor.enabled(approver)


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings().auth, "max_failures_per_account", 3)
    monkeypatch.setattr(get_settings().smtp, "host", "")


def test_a_known_device_still_signs_in_while_the_account_is_locked(
    client: TestClient, session: Session, small_limits: None
) -> None:
    user = make_user(session, make_agency(session))
    login_staff(client, user)  # this browser now carries the known-device cookie
    client.post("/logout", data={"csrf_token": csrf_from(client, "/console")})
    with TestClient(create_app(), client=("203.0.113.9", 5000)) as attacker:
        statuses = [_password_step(attacker, user, "tebakan-salah").status_code for _ in range(4)]
        assert statuses[-1] == 429
        assert _password_step(attacker, user).status_code == 429  # locked for strangers
    assert _password_step(client, user, "tebakan-salah").status_code == 429  # wrong: refused
    assert _password_step(client, user).status_code == 303  # right, on a known device


def test_a_reset_link_unlocks_a_locked_account(
    client: TestClient, session: Session, small_limits: None
) -> None:
    agency: Agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    user = make_user(session, agency)
    with TestClient(create_app(), client=("203.0.113.9", 5000)) as attacker:
        for _ in range(3):
            _password_step(attacker, user, "tebakan-salah")
    assert _password_step(client, user).status_code == 429
    link = staff.send_link(session, admin, user, staff.RESET)
    assert link is not None
    token = csrf_from(client, link)
    done = client.post(
        link, data={"csrf_token": token, "new_password": STRONG, "confirm_password": STRONG}
    )
    assert done.status_code == 200
    assert _password_step(client, user, STRONG).status_code == 303
