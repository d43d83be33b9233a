"""Builders shared by the enrolment tests."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from roster import enrolment
from roster.models import Invitation, Unit, User

VALID_NIP = "198503152010012003"


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
    return enrolment.create_invitation(
        session, editor, unit_id=unit.id if unit else None, label=kw.pop("label", ""), **kw
    )
