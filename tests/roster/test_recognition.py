"""Leaderboard consent: opting in is dated and revocable, exported and erased; the agency's
admin switches the leaderboard off and on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from gaung.errors import ForbiddenError, GaungError
from kernel.audit import AuditLog
from roster import privacy, recognition
from roster.models import Asn, AsnStatus, Role
from roster.recognition import LeaderboardOptIn
from tests.factories import make_agency, make_asn, make_unit, make_user


def test_nobody_is_opted_in_until_they_join_and_joining_records_when(session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    assert recognition.joined_at(session, asn) is None

    moment = recognition.join(session, asn)

    assert recognition.joined_at(session, asn) == moment
    assert recognition.join(session, asn) == moment  # joining again keeps the first consent


def test_revoking_removes_the_consent(session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    recognition.join(session, asn)

    assert recognition.leave(session, asn) is True
    assert recognition.joined_at(session, asn) is None
    assert recognition.leave(session, asn) is False
    actions = session.exec(select(AuditLog.action).where(AuditLog.entity_id == asn.id)).all()
    assert {"asn.leaderboard_joined", "asn.leaderboard_left"} <= set(actions)


def test_an_asn_cannot_join_when_the_agency_turned_it_off_or_they_are_not_active(
    session: Session,
) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    suspended = make_asn(session, unit, status=AsnStatus.SUSPENDED)
    with pytest.raises(GaungError) as refused:
        recognition.join(session, suspended)
    assert refused.value.field == "leaderboard"

    recognition.set_agency_switch(session, make_user(session, agency, Role.ADMIN), False)
    with pytest.raises(GaungError, match="turned the leaderboard off"):
        recognition.join(session, make_asn(session, unit))
    assert session.exec(select(LeaderboardOptIn)).all() == []


def test_only_an_admin_switches_the_leaderboard_and_the_change_is_audited(
    session: Session,
) -> None:
    agency = make_agency(session)
    assert agency.leaderboard is True  # on by default: each ASN still has to opt in
    with pytest.raises(ForbiddenError):
        recognition.set_agency_switch(session, make_user(session, agency, Role.SUPERVISOR), False)

    admin = make_user(session, agency, Role.ADMIN)
    recognition.set_agency_switch(session, admin, False)
    recognition.set_agency_switch(session, admin, False)  # no change: no second audit row

    assert recognition.agency_enabled(session, agency.id or 0) is False
    off = select(AuditLog).where(AuditLog.action == "agency.leaderboard_off")
    assert len(session.exec(off).all()) == 1
    recognition.set_agency_switch(session, admin, True)
    assert recognition.agency_enabled(session, agency.id or 0) is True


def test_the_personal_data_export_holds_the_consent(session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    assert privacy.export(session, asn)["leaderboard"] == {"opted_in_at": None}

    moment = recognition.join(session, asn)

    assert privacy.export(session, asn)["leaderboard"] == {"opted_in_at": moment.isoformat()}


def test_leaving_gaung_erases_the_consent(session: Session) -> None:
    unit = make_unit(session, make_agency(session))
    leaver, stayer = make_asn(session, unit), make_asn(session, unit)
    recognition.join(session, leaver)
    recognition.join(session, stayer)

    privacy.leave(session, leaver)

    assert recognition.joined_at(session, leaver) is None
    assert recognition.joined_at(session, stayer) is not None


def test_a_second_join_racing_the_first_keeps_the_first_consent(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    first = datetime(2026, 12, 1, 8, tzinfo=UTC)
    audit_row = recognition._audit

    def other_tap_first(s: Session, person: Asn, action: str) -> None:
        # The other request commits its consent between this one's check and its commit.
        with Session(session.get_bind()) as other:
            other.add(LeaderboardOptIn(asn_id=person.id or 0, opted_in_at=first))
            other.commit()
        audit_row(s, person, action)

    monkeypatch.setattr(recognition, "_audit", other_tap_first)

    assert recognition.join(session, asn) == first
    assert recognition.joined_at(session, asn) == first


def test_leaving_twice_is_harmless(session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    recognition.join(session, asn)
    with Session(session.get_bind()) as other:
        assert recognition.leave(other, other.get_one(Asn, asn.id)) is True
    assert recognition.leave(session, asn) is False
    assert recognition.joined_at(session, asn) is None
