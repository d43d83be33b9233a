"""Invitation links: unguessable, audited, for reviewers only; a revoked or expired one is dead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from gaung.db import utcnow
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from kernel.audit import AuditLog
from roster import enrolment, invitations
from roster.models import Role
from tests.factories import make_agency, make_unit, make_user
from tests.roster.helpers import Place, form, invitation


def test_a_revoked_or_expired_invitation_opens_nothing(session: Session, place: Place) -> None:
    _, unit, editor = place
    revoked = invitation(session, editor)
    invitations.revoke_invitation(session, editor, revoked.id or 0)
    expired = invitation(session, editor, valid_days=1)
    expired.expires_at = utcnow() - timedelta(minutes=1)
    session.add(expired)
    session.commit()
    for link in (revoked, expired):
        with pytest.raises(NotFoundError):
            invitations.open_invitation(session, link.token)
        with pytest.raises(NotFoundError):
            enrolment.enrol(session, link, form(unit))
    with pytest.raises(NotFoundError):
        invitations.open_invitation(session, "no-such-token")


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
        invitations.create_invitation(session, supervisor)
    with pytest.raises(GaungError) as raised:
        invitations.create_invitation(session, editor, valid_days=0)
    assert raised.value.field == "valid_days"
    foreign = make_unit(session, make_agency(session))
    with pytest.raises(GaungError) as raised:
        invitations.create_invitation(session, editor, unit_id=foreign.id)
    assert raised.value.field == "unit_id"
