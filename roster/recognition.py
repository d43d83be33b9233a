"""Recognition: who chose to appear on the leaderboard, and the agency's switch for it.

An ASN appears on the monthly leaderboard (assignments.leaderboard) only after opting in
in their inbox settings; the ``leaderboard_opt_in`` row is that consent, dated, and
revoking deletes it. It is personal data: the personal-data export shows it and leaving
Gaung erases it (``export_personal_data`` / ``erase_personal_data``, put into
roster.privacy's registries by ``wiring``). Joining and leaving are audited by id only.

The agency's admin can turn the leaderboard off (``Agency.leaderboard``): then nobody's
standing is computed or shown, in the inbox or the dashboard, and the opt-ins are kept
for when it is turned on again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col

from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError
from kernel import audit
from roster.models import Agency, Asn, AsnStatus, Role, User


class LeaderboardOptIn(SQLModel, table=True):
    """An ASN's consent to be shown on their agency's leaderboard, since ``opted_in_at``."""

    __tablename__ = "leaderboard_opt_in"
    asn_id: int = Field(foreign_key="asn.id", primary_key=True)
    opted_in_at: datetime = Field(default_factory=utcnow)


def joined_at(session: Session, asn: Asn) -> datetime | None:
    """When the ASN opted in to the leaderboard; None when they have not (or revoked it)."""
    row = session.get(LeaderboardOptIn, asn.id)
    return row.opted_in_at if row is not None else None


def agency_enabled(session: Session, agency_id: int) -> bool:
    """Whether the agency shows its leaderboard (its admin's switch; on unless turned off)."""
    agency = session.get(Agency, agency_id)
    return agency is not None and agency.leaderboard


def join(session: Session, asn: Asn) -> datetime:
    """Opt the ASN in (recording when), idempotently; commits. Returns the consent time.

    GaungError when the ASN is not active or their agency has turned the leaderboard off:
    consent is asked for something that is shown, not for later.
    """
    assert asn.id is not None
    if asn.status != AsnStatus.ACTIVE:
        raise GaungError(N_("Only active ASN can join the leaderboard."), field="leaderboard")
    if not agency_enabled(session, asn.agency_id):
        raise GaungError(N_("Your agency has turned the leaderboard off."), field="leaderboard")
    existing = session.get(LeaderboardOptIn, asn.id)
    if existing is not None:
        return existing.opted_in_at
    row = LeaderboardOptIn(asn_id=asn.id)
    session.add(row)
    _audit(session, asn, "asn.leaderboard_joined")
    try:
        session.commit()
    except IntegrityError:  # a second tap of "Join" got there first: that consent stands
        session.rollback()
        earlier = session.get(LeaderboardOptIn, asn.id)
        if earlier is None:
            raise
        return earlier.opted_in_at
    return row.opted_in_at


def leave(session: Session, asn: Asn) -> bool:
    """Revoke the ASN's opt-in; commits. False when they had not opted in."""
    table = LeaderboardOptIn.__table__  # type: ignore[attr-defined]
    deleted = session.execute(
        delete(table).where(table.c.asn_id == asn.id).returning(table.c.asn_id)
    ).first()
    if deleted is None:  # not opted in (or a second tap of "Leave")
        session.rollback()
        return False
    session.expire_all()
    _audit(session, asn, "asn.leaderboard_left")
    session.commit()
    return True


def _audit(session: Session, asn: Asn, action: str) -> None:
    audit.record(
        session,
        actor=None,
        action=action,
        entity="asn",
        entity_id=asn.id,
        agency_id=asn.agency_id,
        detail="",
    )


def set_agency_switch(session: Session, actor: User, enabled: bool) -> Agency:
    """The agency's admin turns the leaderboard on or off (audited when it changes); commits."""
    if not actor.active or actor.role != Role.ADMIN:
        raise ForbiddenError(N_("Your role does not allow this action."))
    agency = session.get(Agency, actor.agency_id)
    assert agency is not None
    if agency.leaderboard != enabled:
        agency.leaderboard = enabled
        session.add(agency)
        audit.record(
            session,
            actor=actor,
            action="agency.leaderboard_on" if enabled else "agency.leaderboard_off",
            entity="agency",
            entity_id=agency.id,
            agency_id=agency.id,
            detail="",
        )
    session.commit()
    return agency


# --- personal data (registered with roster.privacy by wiring) --------------------------------


def export_personal_data(session: Session, asn: Asn) -> dict[str, Any]:
    """The leaderboard consent, for the personal-data export."""
    moment = joined_at(session, asn)
    return {"leaderboard": {"opted_in_at": moment.isoformat() if moment is not None else None}}


def erase_personal_data(session: Session, asn: Asn) -> None:
    """Leaving Gaung removes the opt-in (in the caller's transaction; no commit)."""
    session.execute(
        delete(LeaderboardOptIn).where(col(LeaderboardOptIn.asn_id) == asn.id),
        execution_options={"synchronize_session": False},
    )
