"""Enrolment invitations: the links Humas shares so ASN can enrol themselves.

A link is for the whole agency or for one unit, may expire, and can be revoked; opening a
revoked or expired link answers like an unknown one.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from gaung.db import utcnow
from gaung.errors import N_, GaungError, NotFoundError
from gaung.settings import get_settings
from roster import humas
from roster.models import Invitation, Unit, User

LABEL_MAX = 200
INVITATION_MAX_DAYS = 365


def invitation_url(invitation: Invitation) -> str:
    return f"{get_settings().base_url.rstrip('/')}/enrol/{invitation.token}"


def create_invitation(
    session: Session,
    actor: User,
    *,
    unit_id: int | None = None,
    label: str = "",
    valid_days: int | None = None,
) -> Invitation:
    """A new enrolment link for the actor's agency, or for one of its units."""
    humas.require_reviewer(actor)
    label = label.strip()
    if len(label) > LABEL_MAX:
        raise GaungError(N_("At most %(limit)s characters."), field="label", limit=LABEL_MAX)
    if unit_id is not None:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.agency_id != actor.agency_id:
            raise GaungError(N_("Choose a unit of your agency."), field="unit_id")
    expires_at = None
    if valid_days is not None:
        if not 1 <= valid_days <= INVITATION_MAX_DAYS:
            raise GaungError(
                N_("Valid for 1 to %(limit)s days, or leave it empty for no expiry."),
                field="valid_days",
                limit=INVITATION_MAX_DAYS,
            )
        expires_at = utcnow() + timedelta(days=valid_days)
    invitation = Invitation(
        agency_id=actor.agency_id,
        unit_id=unit_id,
        token=secrets.token_urlsafe(24),
        label=label,
        expires_at=expires_at,
        created_by=actor.id,
    )
    session.add(invitation)
    session.flush()
    detail = f"unit {unit_id}" if unit_id else "whole agency"
    humas.record(session, actor, "invitation.created", "invitation", invitation.id, detail)
    session.commit()
    return invitation


def revoke_invitation(session: Session, actor: User, invitation_id: int) -> Invitation:
    humas.require_reviewer(actor)
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.agency_id != actor.agency_id:
        raise NotFoundError(N_("This invitation does not exist."))
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        invitation.revoked_by = actor.id
        session.add(invitation)
        humas.record(session, actor, "invitation.revoked", "invitation", invitation.id)
        session.commit()
    return invitation


def list_invitations(session: Session, agency_id: int) -> list[Invitation]:
    query = (
        select(Invitation)
        .where(Invitation.agency_id == agency_id)
        .order_by(col(Invitation.created_at).desc(), col(Invitation.id).desc())
    )
    return list(session.exec(query))


def is_open(invitation: Invitation, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return invitation.revoked_at is None and (
        invitation.expires_at is None or invitation.expires_at > now
    )


def check_open(invitation: Invitation | None) -> Invitation:
    """The invitation if it still admits enrolments; NotFoundError when gone, revoked or expired.

    One answer for all three, so a link gives nothing away about why it stopped working.
    """
    if invitation is None or not is_open(invitation):
        raise NotFoundError(
            N_("This enrolment link is not valid (any more). Ask your Humas team for a new one.")
        )
    return invitation


def open_invitation(session: Session, token: str) -> Invitation:
    """The invitation behind a link; NotFoundError when unknown, revoked or expired."""
    return check_open(session.exec(select(Invitation).where(Invitation.token == token)).first())
