"""What every Humas action on the roster shares: who may act, on whom, and its audit entry.

Service functions follow content.workflow's rules: role first (ForbiddenError), then the
agency (another agency's ASN is NotFoundError, like a missing one), validate everything,
change, audit, commit.
"""

from __future__ import annotations

from sqlmodel import Session

from gaung.errors import N_, ForbiddenError, NotFoundError
from kernel import audit
from roster.models import Asn, Role, User

REVIEWERS = frozenset({Role.EDITOR, Role.APPROVER, Role.ADMIN})


def require_reviewer(actor: User) -> None:
    """ForbiddenError unless the actor is an active editor, approver or admin."""
    if not actor.active or actor.role not in REVIEWERS:
        raise ForbiddenError(N_("Your role does not allow this action."))


def get_asn(session: Session, actor: User, asn_id: int) -> Asn:
    """An ASN of the actor's agency; another agency's or a missing one: NotFoundError."""
    asn = session.get(Asn, asn_id)
    if asn is None or asn.agency_id != actor.agency_id:
        raise NotFoundError(N_("This ASN does not exist."))
    return asn


def record(
    session: Session,
    actor: User,
    action: str,
    entity: str,
    entity_id: int | None,
    detail: str = "",
) -> None:
    """The audit entry of a Humas action, in the actor's agency."""
    # Ids and reasons only: names and NIPs stay out of the log, so erasing a person
    # (roster.privacy) leaves nothing personal behind in it.
    audit.record(
        session,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        agency_id=actor.agency_id,
        detail=detail,
    )
