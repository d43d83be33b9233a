"""The enrolment form: its rules, consent, and the PENDING ASN it makes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from gaung.db import utcnow
from kernel.audit import AuditLog
from kernel.outbox import INBOX_LINK, PERSON_MESSENGERS, OutboxMessage
from roster import enrolment
from roster.models import Asn, AsnStatus, OwnershipCheck, OwnershipState, SocialAccount
from tests.factories import make_agency, make_asn, make_unit
from tests.roster.helpers import VALID_NIP, Place, form, invitation


def test_a_valid_enrolment_is_pending_with_consent_codes_and_a_welcome_message(
    session: Session, place: Place
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


def test_a_unit_invitation_fixes_the_unit_whatever_the_form_says(
    session: Session, place: Place
) -> None:
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
    session: Session, place: Place
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


def test_every_messenger_that_needs_a_typed_address_says_why() -> None:
    typed = [p for p in PERSON_MESSENGERS.values() if p.address_field in ("email", "phone")]
    assert {p.slug for p in typed} == {"email", "whatsapp", "webhook"}
    assert all(p.address_needed for p in typed)
