"""The audit log: who did what to which record, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlmodel import Field, Session, SQLModel

from gaung.db import utcnow

_DETAIL_MAX = 4000


class Actor(Protocol):
    """Who acted: a staff member (roster.models.User) or anything with an id and an e-mail."""

    @property
    def id(self) -> int | None: ...

    @property
    def email(self) -> str: ...


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    agency_id: int | None = Field(default=None, foreign_key="agency.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor_label: str = Field(max_length=200)  # "user:3 siti@..." or "system"
    action: str = Field(max_length=60)  # e.g. post.submitted, post.approved
    entity: str = Field(max_length=40)
    entity_id: int | None = None
    detail: str = Field(default="", max_length=4000)


def actor_label(actor: Actor | None) -> str:
    """A label that still reads well after the user row is gone."""
    if actor is None:
        return "system"
    return f"user:{actor.id} {actor.email}"[:200]


def record(
    session: Session,
    *,
    actor: Actor | None,
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
