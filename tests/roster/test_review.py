"""Humas' review: approve, reject with a reason, suspend and re-activate; all audited."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from gaung.errors import ForbiddenError, GaungError, NotFoundError
from kernel.audit import AuditLog
from roster import review
from roster.models import AsnStatus, Role
from tests.factories import make_agency, make_asn, make_user
from tests.roster.helpers import Place, actions, pending


def test_approve_then_suspend_then_reactivate_is_audited(session: Session, place: Place) -> None:
    _, _unit, editor = place
    asn = pending(session, place)
    review.approve(session, editor, asn.id or 0)
    assert asn.status == AsnStatus.ACTIVE
    assert asn.approved_at is not None
    approved_at = asn.approved_at
    review.suspend(session, editor, asn.id or 0, "Membagikan hoaks")
    assert (asn.status, asn.review_note) == (AsnStatus.SUSPENDED, "Membagikan hoaks")
    review.reactivate(session, editor, asn.id or 0)
    assert asn.status == AsnStatus.ACTIVE
    assert asn.review_note is None
    assert asn.approved_at == approved_at  # "official since" stays the first approval
    assert actions(session, asn) == [
        "asn.enrolled",
        "asn.approved",
        "asn.suspended",
        "asn.reactivated",
    ]
    detail = session.exec(select(AuditLog.detail).where(AuditLog.action == "asn.suspended")).one()
    assert detail == "reason: Membagikan hoaks"


def test_reject_needs_a_reason_and_can_be_reconsidered(session: Session, place: Place) -> None:
    _, _unit, editor = place
    asn = pending(session, place)
    with pytest.raises(GaungError) as raised:
        review.reject(session, editor, asn.id or 0, "   ")
    assert raised.value.field == "reason"
    review.reject(session, editor, asn.id or 0, "NIP tidak terdaftar di unit ini")
    assert asn.status == AsnStatus.REJECTED
    review.approve(session, editor, asn.id or 0)
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
        "approve": lambda: review.approve(session, editor, asn.id or 0),
        "reject": lambda: review.reject(session, editor, asn.id or 0, "x"),
        "suspend": lambda: review.suspend(session, editor, asn.id or 0, "x"),
        "reactivate": lambda: review.reactivate(session, editor, asn.id or 0),
    }
    with pytest.raises(GaungError):
        calls[action]()
    session.refresh(asn)
    assert asn.status == status


def test_approval_needs_recorded_consent(session: Session, place: Place) -> None:
    _, unit, editor = place
    asn = make_asn(session, unit, status=AsnStatus.PENDING, consent=False)
    with pytest.raises(GaungError, match="consent"):
        review.approve(session, editor, asn.id or 0)


def test_another_agencys_asn_is_not_found_and_supervisors_cannot_decide(
    session: Session, place: Place
) -> None:
    agency, _unit, _editor = place
    asn = pending(session, place)
    outsider = make_user(session, make_agency(session), Role.ADMIN)
    with pytest.raises(NotFoundError):
        review.approve(session, outsider, asn.id or 0)
    with pytest.raises(ForbiddenError):
        review.approve(session, make_user(session, agency, Role.SUPERVISOR), asn.id or 0)
    assert asn.status == AsnStatus.PENDING
