"""TOTP second factor: enrolment confirmed by a code, wrong and reused codes refused."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import text
from sqlmodel import Session

from gaung.db import utcnow
from gaung.errors import GaungError
from roster import two_factor
from roster.models import Role
from tests.factories import PASSWORD, make_agency, make_user


def test_enrolment_is_on_only_after_a_right_code(session: Session) -> None:
    agency = make_agency(session)
    user = make_user(session, agency)
    secret = two_factor.begin(session, user)
    assert not two_factor.enabled(user)
    with pytest.raises(GaungError) as wrong:
        two_factor.confirm(session, user, "000000")
    assert wrong.value.field == "code"
    assert not two_factor.enabled(user)
    two_factor.confirm(session, user, pyotp.TOTP(secret).now())
    assert two_factor.enabled(user)
    uri = two_factor.provisioning_uri(user, agency)
    assert uri.startswith("otpauth://totp/")
    assert "secret=" in uri
    assert two_factor.qr_svg(uri).startswith("<svg")


def test_the_secret_is_stored_encrypted(session: Session) -> None:
    user = make_user(session, make_agency(session))
    secret = two_factor.begin(session, user)
    stored = session.execute(
        text('SELECT totp_secret FROM "user" WHERE id = :id'), {"id": user.id}
    ).scalar_one()
    assert secret not in stored


def test_a_code_is_accepted_once_and_only_near_its_time(session: Session) -> None:
    user = make_user(session, make_agency(session))
    secret = two_factor.begin(session, user)
    totp = pyotp.TOTP(secret)
    code = totp.now()
    assert two_factor.check_code(user, code)
    assert not two_factor.check_code(user, code)  # reused
    assert not two_factor.check_code(user, totp.at(utcnow() - timedelta(minutes=5)))
    assert not two_factor.check_code(user, "12345")
    assert not two_factor.check_code(user, "abcdef")
    # The next step's code still works (clock drift), once.
    following = totp.at(utcnow(), counter_offset=1)
    assert two_factor.check_code(user, following)
    assert not two_factor.check_code(user, following)


def test_turning_it_off_needs_the_password_and_is_refused_when_required(
    session: Session,
) -> None:
    agency = make_agency(session)
    user = make_user(session, agency, Role.APPROVER)
    two_factor.confirm(session, user, pyotp.TOTP(two_factor.begin(session, user)).now())
    with pytest.raises(GaungError) as wrong:
        two_factor.disable(session, user, agency, "not-the-password")
    assert wrong.value.field == "password"
    agency.require_two_factor = True
    session.commit()
    assert two_factor.required(user, agency)
    with pytest.raises(GaungError):
        two_factor.disable(session, user, agency, PASSWORD)
    agency.require_two_factor = False
    session.commit()
    two_factor.disable(session, user, agency, PASSWORD)
    assert not two_factor.enabled(user)
    assert user.totp_secret is None


def test_an_admin_removes_a_lost_factor(session: Session) -> None:
    agency = make_agency(session)
    admin, editor = make_user(session, agency, Role.ADMIN), make_user(session, agency)
    two_factor.confirm(session, editor, pyotp.TOTP(two_factor.begin(session, editor)).now())
    two_factor.reset(session, admin, editor.id or 0)
    assert not two_factor.enabled(editor)
