"""Builders shared by the roster service tests (enrolment, invitations, review, sign-in)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from kernel.audit import AuditLog
from roster import enrolment, invitations
from roster.models import Agency, Asn, Invitation, Unit, User

VALID_NIP = "198503152010012003"
# The agency, a unit of it and one of its editors (the ``place`` fixture).
Place = tuple[Agency, Unit, User]


def form(unit: Unit | None = None, **changes: Any) -> enrolment.EnrolmentForm:
    values: dict[str, Any] = {
        "nip": VALID_NIP,
        "name": "Siti Rahayu",
        "unit_id": unit.id if unit else None,
        "messenger": "email",
        "email": "siti.rahayu@example.go.id",
        "phone": "",
        "handles": {"x": "@SitiRahayu_", "instagram": "https://www.instagram.com/siti.rahayu/"},
        "consent": True,
        "consent_version": enrolment.CONSENT_VERSION,
        "locale": "id",
    }
    values.update(changes)
    return enrolment.EnrolmentForm(**values)


def invitation(session: Session, editor: User, unit: Unit | None = None, **kw: Any) -> Invitation:
    return invitations.create_invitation(
        session, editor, unit_id=unit.id if unit else None, label=kw.pop("label", ""), **kw
    )


def pending(session: Session, place: Place) -> Asn:
    _, unit, editor = place
    return enrolment.enrol(session, invitation(session, editor), form(unit))


def actions(session: Session, asn: Asn) -> list[str]:
    query = select(AuditLog.action).where(AuditLog.entity == "asn", AuditLog.entity_id == asn.id)
    return list(session.exec(query.order_by(col(AuditLog.id))))
