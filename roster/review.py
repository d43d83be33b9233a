"""Humas' review of enrolments: approve or reject with a reason, later suspend or re-activate.

Every decision is audited with ids and the reason only; the person sees the reason.
"""

from __future__ import annotations

from sqlmodel import Session

from gaung.db import utcnow
from gaung.errors import N_, GaungError
from roster import humas
from roster.models import Asn, AsnStatus, User

REASON_MAX = 500


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise GaungError(N_("Give a reason; the person will see it."), field="reason")
    if len(text) > REASON_MAX:
        raise GaungError(N_("At most %(limit)s characters."), field="reason", limit=REASON_MAX)
    return text


def _decide(
    session: Session,
    actor: User,
    asn: Asn,
    status: str,
    action: str,
    note: str | None,
) -> Asn:
    now = utcnow()
    asn.status = status
    asn.reviewed_at = now
    asn.reviewed_by = actor.id
    asn.review_note = note
    if status == AsnStatus.ACTIVE and asn.approved_at is None:
        asn.approved_at = now
    session.add(asn)
    humas.record(session, actor, action, "asn", asn.id, f"reason: {note}" if note else "")
    session.commit()
    return asn


def approve(session: Session, actor: User, asn_id: int) -> Asn:
    humas.require_reviewer(actor)
    asn = humas.get_asn(session, actor, asn_id)
    if asn.status not in (AsnStatus.PENDING, AsnStatus.REJECTED):
        raise GaungError(N_("Only a pending or rejected enrolment can be approved."))
    if asn.consent_at is None:
        raise GaungError(N_("This person has not given consent, so they cannot be approved."))
    return _decide(session, actor, asn, AsnStatus.ACTIVE, "asn.approved", None)


def reject(session: Session, actor: User, asn_id: int, reason: str) -> Asn:
    humas.require_reviewer(actor)
    asn = humas.get_asn(session, actor, asn_id)
    if asn.status != AsnStatus.PENDING:
        raise GaungError(N_("Only a pending enrolment can be rejected."))
    return _decide(session, actor, asn, AsnStatus.REJECTED, "asn.rejected", _reason(reason))


def suspend(session: Session, actor: User, asn_id: int, reason: str) -> Asn:
    humas.require_reviewer(actor)
    asn = humas.get_asn(session, actor, asn_id)
    if asn.status != AsnStatus.ACTIVE:
        raise GaungError(N_("Only an active ASN can be suspended."))
    return _decide(session, actor, asn, AsnStatus.SUSPENDED, "asn.suspended", _reason(reason))


def reactivate(session: Session, actor: User, asn_id: int) -> Asn:
    humas.require_reviewer(actor)
    asn = humas.get_asn(session, actor, asn_id)
    if asn.status != AsnStatus.SUSPENDED:
        raise GaungError(N_("Only a suspended ASN can be re-activated."))
    return _decide(session, actor, asn, AsnStatus.ACTIVE, "asn.reactivated", None)
