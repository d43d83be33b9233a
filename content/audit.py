"""The audit log: who did what to which record, written in the same transaction as the change."""

from __future__ import annotations

from sqlmodel import Session

from content.models import AuditLog
from roster.models import User

_DETAIL_MAX = 4000


def actor_label(actor: User | None) -> str:
    """A label that still reads well after the user row is gone."""
    if actor is None:
        return "system"
    return f"user:{actor.id} {actor.email}"[:200]


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity: str,
    entity_id: int | None,
    agency_id: int | None,
    detail: str = "",
) -> AuditLog:
    """Add an audit row to the session; the caller's commit makes it permanent with the change."""
    entry = AuditLog(
        agency_id=agency_id,
        actor_id=actor.id if actor else None,
        actor_label=actor_label(actor),
        action=action,
        entity=entity,
        entity_id=entity_id,
        detail=detail[:_DETAIL_MAX],
    )
    session.add(entry)
    return entry
