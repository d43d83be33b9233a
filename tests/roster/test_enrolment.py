"""Self-enrolment: invitation links, the form's rules, consent, and Humas' review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from gaung.db import utcnow
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from kernel.audit import AuditLog
from kernel.outbox import ADDRESS_FIELD, INBOX_LINK, OutboxMessage
from roster import enrolment
from roster.models import (
    Agency,
    Asn,
    AsnStatus,
    OwnershipCheck,
    OwnershipState,
    Role,
    SocialAccount,
    Unit,
    User,
)
from tests.factories import make_agency, make_asn, make_unit, make_user
from tests.roster.helpers import VALID_NIP, form, invitation

Place = tuple[Agency, Unit, User]


@pytest.fixture
def place(session: Session) -> Place:
    agency = make_agency(session)
    unit = make_unit(session, agency, "Biro Humas")
    editor = make_user(session, agency, Role.EDITOR)
    return agency, unit, editor


def test_a_valid_enrolment_is_pending_with_consent_codes_and_a_welcome_message(
    session: Session, place
) -> None:
    agency, unit, editor = place
    link = invitation(session, editor)
    asn = enrolment.enrol(session, link, form(unit))

    assert asn.status == AsnStatus.PENDING
    assert (asn.nip, asn.name, asn.unit_id, asn.agency_id) == (
        VALID_NIP,
        "Siti Rahayu",
        unit.id,
        agency.id,
    )
    assert asn.consent_at is not None
    assert asn.consent_version == enrolment.CONSENT_VERSION
    assert asn.invitation_id == link.id
    accounts = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).all()
    assert {(a.platform, a.handle) for a in accounts} == {
        ("x", "sitirahayu_"),
        ("instagram", "siti.rahayu"),
    }
    assert all(a.platform_user_id is None and a.ownership_verified_at is None for a in accounts)
    checks = session.exec(select(OwnershipCheck)).all()
    assert len(checks) == 2
    assert all(c.state == OwnershipState.WAITING and c.code.startswith("GAUNG-") for c in checks)
    assert all(c.expires_at > utcnow() + timedelta(hours=47) for c in checks)
    message = session.exec(select(OutboxMessage).where(OutboxMessage.asn_id == asn.id)).one()
    assert (message.messenger, message.recipient) == ("email", "siti.rahayu@example.go.id")
    assert INBOX_LINK in message.text
    assert "Siti Rahayu" in message.text
    entry = session.exec(select(AuditLog).where(AuditLog.action == "asn.enrolled")).one()
    assert entry.entity_id == asn.id
    assert VALID_NIP not in entry.detail
    assert "Siti" not in entry.detail


def test_without_consent_nothing_is_saved(session: Session, place: Place) -> None:
    _, unit, editor = place
    link = invitation(session, editor)
    with pytest.raises(enrolment.EnrolmentInvalid) as raised:
        enrolment.enrol(session, link, form(unit, consent=False))
    assert set(raised.value.errors) == {"consent"}
    assert session.exec(select(Asn)).all() == []


def test_a_form_opened_on_an_older_consent_text_is_refused(session: Session, place: Place) -> None:
    _, unit, editor = place
    with pytest.raises(enrolment.EnrolmentInvalid) as raised:
        enrolment.enrol(session, invitation(session, editor), form(unit, consent_version="2020-01"))
    assert "changed" in raised.value.errors["consent"].message


def test_every_bad_field_is_reported_at_once(session: Session, place: Place) -> None:
    _, _unit, editor = place
    bad = form(
        None,
        nip="19851315201001200",
        name="  ",
        messenger="whatsapp",
        email="not-an-address",
        phone="",
        handles={"x": "far too long for an x handle", "facebook": "ab"},
        consent=False,
    )
    with pytest.raises(enrolment.EnrolmentInvalid) as raised:
        enrolment.enrol(session, invitation(session, editor), bad)
    assert set(raised.value.errors) == {
        "nip",
        "name",
        "unit_id",
        "email",
        "phone",
        "x_handle",
        "facebook_handle",
        "consent",
    }
    assert raised.value.errors["x_handle"].params == {"platform": "X"}


def test_at_least_one_account_is_needed(session: Session, place: Place) -> None:
    _, unit, editor = place
    with pytest.raises(enrolment.EnrolmentInvalid) as raised:
        enrolment.enrol(session, invitation(session, editor), form(unit, handles={}))
    assert set(raised.value.errors) == {"accounts"}


def test_a_unit_invitation_fixes_the_unit_whatever_the_form_says(session: Session, place) -> None:
    agency, unit, editor = place
    other = make_unit(session, agency)
    link = invitation(session, editor, unit)
    asn = enrolment.enrol(session, link, form(other))
    assert asn.unit_id == unit.id


def test_a_unit_of_another_agency_cannot_be_chosen(session: Session, place: Place) -> None:
    _, _unit, editor = place
    foreign = make_unit(session, make_agency(session))
    with pytest.raises(enrolment.EnrolmentInvalid) as raised:
        enrolment.enrol(session, invitation(session, editor), form(foreign))
    assert set(raised.value.errors) == {"unit_id"}


def test_a_nip_email_or_account_already_enrolled_is_refused(session: Session, place: Place) -> None:
    _, unit, editor = place
    link = invitation(session, editor)
    enrolment.enrol(session, link, form(unit))
    again = form(unit, email="SITI.RAHAYU@example.go.id", handles={"x": "sitirahayu_"})
    with pytest.raises(enrolment.EnrolmentInvalid) as raised:
        enrolment.enrol(session, link, again)
    assert set(raised.value.errors) == {"nip", "email", "x_handle"}
    assert "someone else" in raised.value.errors["x_handle"].message
    assert len(session.exec(select(Asn)).all()) == 1


def test_an_account_of_an_existing_asn_is_refused_by_handle(session: Session, place: Place) -> None:
    _, unit, editor = place
    existing = make_asn(session, unit, platforms=["instagram"])
    handle = session.exec(
        select(SocialAccount.handle).where(SocialAccount.asn_id == existing.id)
    ).one()
    with pytest.raises(enrolment.EnrolmentInvalid) as raised:
        enrolment.enrol(
            session, invitation(session, editor), form(unit, handles={"instagram": f"@{handle}"})
        )
    assert set(raised.value.errors) == {"instagram_handle"}


def test_whatsapp_needs_a_phone_which_is_stored_in_international_form(
    session: Session, place
) -> None:
    _, unit, editor = place
    asn = enrolment.enrol(
        session,
        invitation(session, editor),
        form(unit, messenger="whatsapp", email="", phone="0812-3456-7890"),
    )
    assert asn.phone == "+6281234567890"
    assert asn.email is None
    # No WhatsApp template for a sign-in link and no e-mail: no message, but still enrolled.
    assert session.exec(select(OutboxMessage)).all() == []


def test_phone_and_email_are_stored_as_the_roster_import_stores_them(
    session: Session, place: Place
) -> None:
    _, unit, editor = place
    typed = form(unit, phone="0812-3456-7890", email="Budi.Santoso@Kominfo.GO.ID")

    asn = enrolment.enrol(session, invitation(session, editor), typed)

    assert (asn.phone, asn.email) == ("+6281234567890", "budi.santoso@kominfo.go.id")


def test_a_bad_phone_or_email_is_named_by_its_field(session: Session, place: Place) -> None:
    _, unit, editor = place
    typed = form(unit, phone="0812-3456", email="Budi <budi@kominfo.go.id>")

    with pytest.raises(enrolment.EnrolmentInvalid) as raised:
        enrolment.enrol(session, invitation(session, editor), typed)

    assert {name: error.field for name, error in raised.value.errors.items()} == {
        "phone": "phone",
        "email": "email",
    }
    assert session.exec(select(Asn)).all() == []


def test_the_sms_gateway_needs_a_phone_which_is_stored_in_international_form(
    session: Session, place: Place
) -> None:
    _, unit, editor = place
    link = invitation(session, editor)
    with pytest.raises(enrolment.EnrolmentInvalid) as raised:
        enrolment.enrol(session, link, form(unit, messenger="webhook", phone=""))
    assert set(raised.value.errors) == {"phone"}
    assert "SMS" in raised.value.errors["phone"].message

    asn = enrolment.enrol(session, link, form(unit, messenger="webhook", phone="0812 3456 7890"))

    assert (asn.messenger, asn.phone) == ("webhook", "+6281234567890")


def test_every_messenger_that_reaches_people_by_phone_says_why_it_needs_one() -> None:
    by_phone = {messenger for messenger, field in ADDRESS_FIELD.items() if field == "phone"}
    assert set(enrolment.PHONE_NEEDED) == by_phone


def test_a_revoked_or_expired_invitation_opens_nothing(session: Session, place: Place) -> None:
    _, unit, editor = place
    revoked = invitation(session, editor)
    enrolment.revoke_invitation(session, editor, revoked.id or 0)
    expired = invitation(session, editor, valid_days=1)
    expired.expires_at = utcnow() - timedelta(minutes=1)
    session.add(expired)
    session.commit()
    for link in (revoked, expired):
        with pytest.raises(NotFoundError):
            enrolment.open_invitation(session, link.token)
        with pytest.raises(NotFoundError):
            enrolment.enrol(session, link, form(unit))
    with pytest.raises(NotFoundError):
        enrolment.open_invitation(session, "no-such-token")


def test_invitations_are_unguessable_audited_and_for_reviewers_only(
    session: Session, place: Place
) -> None:
    agency, unit, editor = place
    tokens = {invitation(session, editor, unit).token for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(t) >= 32 for t in tokens)
    actions = session.exec(select(AuditLog.action).where(AuditLog.entity == "invitation")).all()
    assert actions == ["invitation.created"] * 5
    supervisor = make_user(session, agency, Role.SUPERVISOR)
    with pytest.raises(ForbiddenError):
        enrolment.create_invitation(session, supervisor)
    with pytest.raises(GaungError) as raised:
        enrolment.create_invitation(session, editor, valid_days=0)
    assert raised.value.field == "valid_days"
    foreign = make_unit(session, make_agency(session))
    with pytest.raises(GaungError) as raised:
        enrolment.create_invitation(session, editor, unit_id=foreign.id)
    assert raised.value.field == "unit_id"


# --- review --------------------------------------------------------------------------------


def _pending(session: Session, place: Place) -> Asn:
    _, unit, editor = place
    return enrolment.enrol(session, invitation(session, editor), form(unit))


def _actions(session: Session, asn: Asn) -> list[str]:
    query = select(AuditLog.action).where(AuditLog.entity == "asn", AuditLog.entity_id == asn.id)
    return list(session.exec(query.order_by(AuditLog.id)))


def test_approve_then_suspend_then_reactivate_is_audited(session: Session, place: Place) -> None:
    _, _unit, editor = place
    asn = _pending(session, place)
    enrolment.approve(session, editor, asn.id or 0)
    assert asn.status == AsnStatus.ACTIVE
    assert asn.approved_at is not None
    approved_at = asn.approved_at
    enrolment.suspend(session, editor, asn.id or 0, "Membagikan hoaks")
    assert (asn.status, asn.review_note) == (AsnStatus.SUSPENDED, "Membagikan hoaks")
    enrolment.reactivate(session, editor, asn.id or 0)
    assert asn.status == AsnStatus.ACTIVE
    assert asn.review_note is None
    assert asn.approved_at == approved_at  # "official since" stays the first approval
    assert _actions(session, asn) == [
        "asn.enrolled",
        "asn.approved",
        "asn.suspended",
        "asn.reactivated",
    ]
    detail = session.exec(select(AuditLog.detail).where(AuditLog.action == "asn.suspended")).one()
    assert detail == "reason: Membagikan hoaks"


def test_reject_needs_a_reason_and_can_be_reconsidered(session: Session, place: Place) -> None:
    _, _unit, editor = place
    asn = _pending(session, place)
    with pytest.raises(GaungError) as raised:
        enrolment.reject(session, editor, asn.id or 0, "   ")
    assert raised.value.field == "reason"
    enrolment.reject(session, editor, asn.id or 0, "NIP tidak terdaftar di unit ini")
    assert asn.status == AsnStatus.REJECTED
    enrolment.approve(session, editor, asn.id or 0)
    assert asn.status == AsnStatus.ACTIVE


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (AsnStatus.ACTIVE, "approve"),
        (AsnStatus.ACTIVE, "reject"),
        (AsnStatus.PENDING, "suspend"),
        (AsnStatus.ACTIVE, "reactivate"),
        (AsnStatus.LEFT, "approve"),
    ],
)
def test_transitions_from_the_wrong_status_are_refused(
    session: Session, place: Place, status: str, action: str
) -> None:
    _, unit, editor = place
    asn = make_asn(session, unit, status=status)
    calls = {
        "approve": lambda: enrolment.approve(session, editor, asn.id or 0),
        "reject": lambda: enrolment.reject(session, editor, asn.id or 0, "x"),
        "suspend": lambda: enrolment.suspend(session, editor, asn.id or 0, "x"),
        "reactivate": lambda: enrolment.reactivate(session, editor, asn.id or 0),
    }
    with pytest.raises(GaungError):
        calls[action]()
    session.refresh(asn)
    assert asn.status == status


def test_approval_needs_recorded_consent(session: Session, place: Place) -> None:
    _, unit, editor = place
    asn = make_asn(session, unit, status=AsnStatus.PENDING, consent=False)
    with pytest.raises(GaungError, match="consent"):
        enrolment.approve(session, editor, asn.id or 0)


def test_another_agencys_asn_is_not_found_and_supervisors_cannot_decide(
    session: Session, place
) -> None:
    agency, _unit, _editor = place
    asn = _pending(session, place)
    outsider = make_user(session, make_agency(session), Role.ADMIN)
    with pytest.raises(NotFoundError):
        enrolment.approve(session, outsider, asn.id or 0)
    with pytest.raises(ForbiddenError):
        enrolment.approve(session, make_user(session, agency, Role.SUPERVISOR), asn.id or 0)
    assert asn.status == AsnStatus.PENDING


def test_humas_sends_a_sign_in_link_at_most_once_a_day(session: Session, place: Place) -> None:
    _, unit, editor = place
    asn = make_asn(session, unit)
    assert enrolment.send_sign_in_link(session, editor, asn.id or 0) is True
    assert enrolment.send_sign_in_link(session, editor, asn.id or 0) is False
    keys = session.exec(select(OutboxMessage.key).where(OutboxMessage.asn_id == asn.id)).all()
    assert len(keys) == 1
    assert keys[0].startswith(f"signin:{asn.id}:")
    assert _actions(session, asn) == ["asn.sign_in_link_sent"]


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(page=st.integers(min_value=-3, max_value=10))
def test_the_asn_list_pages_and_filters_within_the_agency(
    session: Session, place: Place, page: int
) -> None:
    agency, unit, _editor = place
    if not session.exec(select(Asn).where(Asn.agency_id == agency.id)).first():
        for _ in range(3):
            make_asn(session, unit)
        make_asn(session, unit, status=AsnStatus.PENDING)
        make_asn(session, make_unit(session, make_agency(session)))
    everyone = enrolment.list_asn(session, agency.id or 0, page=page)
    assert everyone.total == 4
    assert everyone.page == 1
    assert len(everyone.people) == 4
    pending = enrolment.list_asn(session, agency.id or 0, status=AsnStatus.PENDING)
    assert pending.total == 1
    assert enrolment.status_counts(session, agency.id or 0) == {"active": 3, "pending": 1}
    first = everyone.people[-1]
    assert enrolment.list_asn(session, agency.id or 0, search=first.nip or "").people == [first]
