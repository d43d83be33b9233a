"""Staff accounts: adding, one-time password links, roles, deactivation, the last admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from gaung.db import utcnow
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from gaung.settings import get_settings
from kernel import throttle
from kernel.audit import AuditLog
from kernel.models import WorkItem
from roster import passwords, staff
from roster.models import Role, StaffToken, User
from roster.security import verify_password
from tests.factories import make_agency, make_user

STRONG = "kopi tubruk di pagi hujan"


def _actions(session: Session, user: User) -> list[str]:
    query = select(AuditLog.action).where(AuditLog.entity == "user", AuditLog.entity_id == user.id)
    return list(session.exec(query.order_by(col(AuditLog.id))))


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


@pytest.fixture
def no_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings().smtp, "host", "")


@pytest.mark.parametrize(
    ("password", "field_message"),
    [
        ("pendek", "at least 12"),
        ("passwordpassword", "too common"),
        ("123456789012", "too common"),
        ("qwertyuiop123", "too common"),
    ],
)
def test_weak_passwords_are_refused_naming_the_field(password: str, field_message: str) -> None:
    with pytest.raises(GaungError) as caught:
        passwords.check_new_password(password, field="new_password")
    assert caught.value.field == "new_password"
    assert field_message in str(caught.value)


def test_a_password_that_is_the_persons_own_email_is_refused() -> None:
    with pytest.raises(GaungError):
        passwords.check_new_password(
            "siti.rahayu@kominfo.go.id", known=["siti.rahayu@kominfo.go.id"]
        )
    assert passwords.check_new_password("siti.rahayu@kominfo.go.id") != ""  # strong to strangers
    assert passwords.check_new_password(STRONG) == STRONG


def test_a_new_member_without_password_signs_in_only_through_the_invitation(
    session: Session, no_mail: None
) -> None:
    agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    user = staff.add_staff(
        session, agency, email=" Budi@Kominfo.go.id ", role="Editor", name="Budi", actor=admin
    )
    session.commit()
    assert user.email == "budi@kominfo.go.id"
    assert user.role == Role.EDITOR
    assert not verify_password(user.password_hash, "")
    link = staff.send_link(session, admin, user, staff.INVITE)
    assert link is not None
    assert link.startswith("http://testserver/account/set-password/")
    token = _token(link)
    # Only a hash is stored.
    assert session.exec(select(StaffToken).where(StaffToken.token_hash == token)).first() is None
    staff.use_link(session, token, password=STRONG, confirm=STRONG)
    assert verify_password(user.password_hash, STRONG)
    with pytest.raises(GaungError) as reused:
        staff.use_link(session, token, password=STRONG + "x", confirm=STRONG + "x")
    assert reused.value.field == "token"
    assert _actions(session, user) == [
        "user.created",
        "user.invite_link_issued",
        "user.password_set_by_invite_link",
    ]


def test_links_expire_and_a_newer_one_replaces_the_older(session: Session, no_mail: None) -> None:
    agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    editor = make_user(session, agency)
    first = _token(staff.send_link(session, admin, editor, staff.RESET) or "")
    second = _token(staff.send_link(session, admin, editor, staff.RESET) or "")
    assert staff.open_link(session, first) is None
    assert staff.open_link(session, second) is not None
    row = session.exec(select(StaffToken).where(col(StaffToken.used_at).is_(None))).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert staff.open_link(session, second) is None


def test_a_reset_link_lifts_the_accounts_lockout(session: Session, no_mail: None) -> None:
    agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    editor = make_user(session, agency)
    for _ in range(get_settings().auth.max_failures_per_account):
        throttle.record_failure(session, editor.email, "198.51.100.1")
    session.commit()
    assert throttle.lockout(session, editor.email, "198.51.100.2") is not None
    link = staff.send_link(session, admin, editor, staff.RESET) or ""
    epoch = editor.session_epoch
    staff.use_link(session, _token(link), password=STRONG, confirm=STRONG)
    assert throttle.lockout(session, editor.email, "198.51.100.2") is None
    assert editor.session_epoch == epoch + 1  # every session of the old password ends


def test_the_set_password_form_checks_its_fields(session: Session, no_mail: None) -> None:
    agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    token = _token(staff.send_link(session, admin, make_user(session, agency), staff.RESET) or "")
    with pytest.raises(GaungError) as weak:
        staff.use_link(session, token, password="short", confirm="short")
    assert weak.value.field == "password"
    with pytest.raises(GaungError) as different:
        staff.use_link(session, token, password=STRONG, confirm=STRONG + "!")
    assert different.value.field == "confirm_password"
    assert staff.open_link(session, token) is not None  # a refused try does not use it up


def test_with_mail_the_link_is_queued_encrypted_not_shown(session: Session) -> None:
    assert staff.mail_configured()  # settings.toml: 127.0.0.1:25
    agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    editor = make_user(session, agency)
    assert staff.send_link(session, admin, editor, staff.RESET) is None
    item = session.exec(select(WorkItem).where(WorkItem.kind == staff.MAIL_JOB)).one()
    row = session.exec(select(StaffToken)).one()
    assert f'"token_id": {row.id}' in item.payload
    assert row.token_hash not in item.payload


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [(staff.change_role, {"role": "editor"}), (staff.deactivate, {})],
)
def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
    session: Session, call: Any, kwargs: dict[str, str]
) -> None:
    agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    with pytest.raises(GaungError) as caught:
        call(session, admin, admin.id, **kwargs)
    assert "last active admin" in str(caught.value)
    second = make_user(session, agency, Role.ADMIN)
    call(session, second, admin.id, **kwargs)
    with pytest.raises(GaungError) as last:
        call(session, second, second.id, **kwargs)
    assert "last active admin" in str(last.value)


def test_an_inactive_admin_does_not_count_as_the_agencys_admin(session: Session) -> None:
    agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    other = make_user(session, agency, Role.ADMIN)
    staff.deactivate(session, admin, other.id or 0)
    with pytest.raises(GaungError):
        staff.change_role(session, admin, admin.id or 0, "supervisor")


def test_deactivation_ends_sessions_and_links_and_is_audited(
    session: Session, no_mail: None
) -> None:
    agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    editor = make_user(session, agency)
    token = _token(staff.send_link(session, admin, editor, staff.RESET) or "")
    epoch = editor.session_epoch
    staff.deactivate(session, admin, editor.id or 0)
    assert not editor.active
    assert editor.session_epoch == epoch + 1
    assert staff.open_link(session, token) is None
    with pytest.raises(GaungError):
        staff.send_link(session, admin, editor, staff.RESET)
    staff.reactivate(session, admin, editor.id or 0)
    staff.change_role(session, admin, editor.id or 0, "approver")
    assert editor.role == Role.APPROVER
    assert _actions(session, editor)[-3:] == [
        "user.deactivated",
        "user.reactivated",
        "user.role_changed",
    ]


def test_only_an_admin_of_the_same_agency_manages_staff(session: Session) -> None:
    agency, other = make_agency(session), make_agency(session)
    editor = make_user(session, agency)
    outsider_admin = make_user(session, other, Role.ADMIN)
    with pytest.raises(ForbiddenError):
        staff.deactivate(session, editor, editor.id or 0)
    with pytest.raises(NotFoundError):
        staff.deactivate(session, outsider_admin, editor.id or 0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"role": "boss"}, "role"),
        ({"name": "x" * 201}, "name"),
        ({"password": "short"}, "password"),
    ],
)
def test_bad_input_names_its_field(session: Session, changes: dict[str, str], field: str) -> None:
    agency = make_agency(session)
    values: dict[str, Any] = {"email": "ok@kominfo.go.id", "role": "editor", "name": "Ok"}
    values.update(changes)
    with pytest.raises(GaungError) as caught:
        staff.add_staff(session, agency, **values)
    assert caught.value.field == field


def test_an_address_is_one_account(session: Session) -> None:
    agency = make_agency(session)
    make_user(session, agency, email="siti@kominfo.go.id")
    with pytest.raises(GaungError) as caught:
        staff.add_staff(session, agency, email="SITI@kominfo.go.id", role="editor")
    assert caught.value.field == "email"
