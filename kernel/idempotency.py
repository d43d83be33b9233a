"""Idempotency keys for API requests that create something (``Idempotency-Key`` header).

A client that retries a POST after a lost answer must not create a second campaign. The
first request with a key *reserves* it (one row, unique per staff member and key, committed
before the work starts); the work runs; the answer is stored on the row. A later request
with the same key and the same fingerprint (method, path and body) gets the stored answer;
with a different fingerprint it is refused; while the first is still running it is told to
retry. Two concurrent requests race on the unique key, so exactly one does the work.

If the work fails the reservation is dropped, so the client may try again. Rows expire
after ``TTL`` and are purged by the hourly ``idempotency.purge`` job, or replaced when a
key is reused after expiry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, select

from gaung.db import utcnow

TTL = timedelta(hours=24)
KEY_MAX = 200


class KeyState(StrEnum):
    RUNNING = "running"
    DONE = "done"


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    key: str = Field(max_length=200)
    # SHA-256 (hex) of the method, path and body of the first request.
    fingerprint: str = Field(max_length=64)
    state: str = Field(default=KeyState.RUNNING, max_length=20)
    response_status: int | None = None
    response_body: str | None = None  # JSON
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


@dataclass(frozen=True)
class Outcome:
    """What a reservation attempt found: ``reserved`` (go ahead), or an earlier request."""

    reserved: bool
    same_request: bool = True
    status: int | None = None  # set when the earlier request finished
    body: Any = None


def fingerprint(method: str, path: str, body: Any) -> str:
    """A stable digest of a request: the body as canonical JSON (or its own digest)."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def reserve(session: Session, user_id: int, key: str, digest: str) -> Outcome:
    """Claim ``key`` for this staff member, or report the request that holds it. Commits."""
    now = utcnow()
    table = IdempotencyKey.__table__  # type: ignore[attr-defined]
    # An expired row is history: the key may be used afresh.
    session.execute(
        delete(table).where(
            table.c.user_id == user_id, table.c.key == key, table.c.expires_at <= now
        )
    )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # RETURNING rather than rowcount, which psycopg reports as -1 for this statement.
    inserted = session.execute(
        insert(table)
        .values(
            user_id=user_id,
            key=key,
            fingerprint=digest,
            state=KeyState.RUNNING,
            created_at=now,
            expires_at=now + TTL,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(table.c.id)
    ).first()
    session.commit()
    if inserted is not None:
        return Outcome(reserved=True)
    row = session.exec(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).one()
    if row.fingerprint != digest:
        return Outcome(reserved=False, same_request=False)
    if row.state != KeyState.DONE or row.response_body is None:
        return Outcome(reserved=False)
    return Outcome(reserved=False, status=row.response_status, body=json.loads(row.response_body))


def finish(session: Session, user_id: int, key: str, status: int, body: Any) -> None:
    """Store the answer of the request that reserved ``key``. Commits."""
    table = IdempotencyKey.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.user_id == user_id, table.c.key == key)
        .values(state=KeyState.DONE, response_status=status, response_body=json.dumps(body))
    )
    session.commit()


def release(session: Session, user_id: int, key: str) -> None:
    """Drop a reservation whose work failed, so the client can retry. Commits."""
    session.rollback()
    table = IdempotencyKey.__table__  # type: ignore[attr-defined]
    session.execute(
        delete(table).where(
            table.c.user_id == user_id,
            table.c.key == key,
            table.c.state == KeyState.RUNNING,
        )
    )
    session.commit()


PURGE_EVERY = timedelta(hours=1)


def purge(session: Session, now: datetime | None = None) -> int:
    """Delete expired keys; returns how many. No commit."""
    table = IdempotencyKey.__table__  # type: ignore[attr-defined]
    expired = table.c.expires_at <= (now or utcnow())
    result = session.connection().execute(delete(table).where(expired))
    return int(result.rowcount or 0)


def purge_job(engine: Engine, payload: dict[str, Any]) -> None:
    with Session(engine) as session:
        purge(session)
        session.commit()
