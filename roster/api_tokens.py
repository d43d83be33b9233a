"""API tokens: a staff member's bearer credential for the JSON API.

A token is ``gaung_<id>_<secret>``: ``id`` (12 hex characters) finds the row, ``secret`` is
256 random bits. Only the SHA-256 of the whole token is stored: with that much entropy a
slow password hash adds nothing, and a stolen table yields no usable token. Comparison is
constant-time. A token acts as its staff member, with their current role and agency, so
deactivating the person (or changing their role) takes effect on the next request.

Service functions commit, like content.workflow; reads never do.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Field, Session, SQLModel, col, select

from gaung.db import utcnow
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from gaung.text import clean_text
from kernel import audit
from roster.models import Role, User

PREFIX = "gaung"
NAME_MAX = 100
MAX_DAYS = 3650
_SHAPE = re.compile(r"^gaung_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    # The public part of the token, to find the row without scanning hashes.
    lookup: str = Field(unique=True, max_length=12)
    # SHA-256 (hex) of the whole token; the token itself is shown once and never stored.
    token_hash: str = Field(max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: int | None = Field(default=None, foreign_key="user.id")


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the row, and the secret to show once."""

    token: ApiToken
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def is_live(token: ApiToken, now: datetime | None = None) -> bool:
    expires = _aware(token.expires_at)
    return token.revoked_at is None and (expires is None or expires > (now or utcnow()))


def _check_name(name: str) -> str:
    name = clean_text(name, "name")
    if not name:
        raise GaungError("Give the token a name, e.g. the system that will use it.", field="name")
    if len(name) > NAME_MAX:
        raise GaungError(
            "The name is %(actual)s characters; the limit is %(limit)s.",
            field="name",
            actual=len(name),
            limit=NAME_MAX,
        )
    return name


def _check_days(days: int | None) -> int | None:
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise GaungError(
            "A token lasts from 1 to %(limit)s days.", field="expires_days", limit=MAX_DAYS
        )
    return days


def _may_manage(actor: User, owner: User) -> bool:
    """Your own tokens; an admin also manages those of their agency's staff."""
    if not actor.active:
        return False
    return actor.id == owner.id or (actor.role == Role.ADMIN and actor.agency_id == owner.agency_id)


def create_token(
    session: Session,
    owner: User,
    *,
    name: str,
    expires_days: int | None = None,
    actor: User | None = None,
) -> IssuedToken:
    """A new token for ``owner``; ``actor`` None is the operator's command line."""
    if actor is not None and not _may_manage(actor, owner):
        raise ForbiddenError("You may not create tokens for this person.")
    name = _check_name(name)
    days = _check_days(expires_days)
    if not owner.active:
        raise GaungError("This staff member is deactivated.", field="staff")
    lookup = secrets.token_hex(6)
    secret = f"{PREFIX}_{lookup}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    token = ApiToken(
        lookup=lookup,
        token_hash=_digest(secret),
        user_id=owner.id or 0,
        name=name,
        created_at=now,
        created_by=actor.id if actor else None,
        expires_at=now + timedelta(days=days) if days else None,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_token.created",
        entity="api_token",
        entity_id=token.id,
        agency_id=owner.agency_id,
        detail=f"{name} for user:{owner.id}",
    )
    session.commit()
    return IssuedToken(token=token, secret=secret)


def list_tokens(session: Session, actor: User) -> list[tuple[ApiToken, User]]:
    """The tokens the actor may manage (theirs; an admin's agency's), newest first."""
    query = select(ApiToken, User).join(User, col(User.id) == col(ApiToken.user_id))
    if actor.role == Role.ADMIN:
        query = query.where(User.agency_id == actor.agency_id)
    else:
        query = query.where(ApiToken.user_id == actor.id)
    rows = session.exec(query.order_by(col(ApiToken.id).desc())).all()
    return [(token, user) for token, user in rows]


def revoke_token(session: Session, actor: User | None, token_id: int) -> ApiToken:
    """Revoke a token at once; revoking a revoked one changes nothing.

    ``actor`` None is the operator's command line; anyone else only sees the tokens they
    may manage (others answer not found, like missing ones).
    """
    token = session.get(ApiToken, token_id)
    owner = session.get(User, token.user_id) if token else None
    if token is None or owner is None or (actor is not None and not _may_manage(actor, owner)):
        raise NotFoundError("Token not found.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        token.revoked_by = actor.id if actor else None
        audit.record(
            session,
            actor=actor,
            action="api_token.revoked",
            entity="api_token",
            entity_id=token.id,
            agency_id=owner.agency_id,
            detail=token.name,
        )
        session.commit()
    return token


def authenticate(session: Session, secret: str) -> User | None:
    """The active staff member a live token belongs to; None for anything else.

    Unknown, malformed, revoked and expired tokens and inactive people all answer None,
    after the same hash comparison, so the answer tells an attacker nothing more.
    """
    found = _SHAPE.match(secret)
    token = None
    if found:
        token = session.exec(select(ApiToken).where(ApiToken.lookup == found.group(1))).first()
    expected = token.token_hash if token else _digest("")
    matches = secrets.compare_digest(_digest(secret), expected)
    if token is None or not matches or not is_live(token):
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    now = utcnow()
    last = _aware(token.last_used_at)
    if last is None or now - last > timedelta(minutes=5):  # not a write per request
        token.last_used_at = now
        session.add(token)
        session.commit()
    return user
