"""Sign-in throttling: failed attempts counted per account and per client address.

Each key (the e-mail typed, the client address) has one ``login_failure`` row: the start
of its window and the failures in it. A failure inserts or bumps the row in one atomic
upsert; a row whose window has passed starts over. When a key reaches its limit
(``auth.max_failures_per_account`` / ``_per_address`` within ``auth.failure_window_seconds``)
every further attempt is refused until the window ends, without checking the password,
and with the same answer whether or not the account exists. A successful sign-in
clears the account's row (not the address's: one valid account must not buy an
attacker fresh guesses at others). A recurring job deletes rows whose window has passed.

Why a table and not the ``limits`` library: limits keeps its counters in memory, Redis,
Memcached, MongoDB or etcd. Gaung's one shared state is its SQL database, and the
counters must hold across any number of web processes on several machines, so they
live there. Keys are stored as HMACs under the secret key: the table holds neither
e-mail addresses nor IP addresses.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from gaung.db import utcnow
from gaung.fields import email_key
from gaung.settings import get_settings

ACCOUNT = "account"
ADDRESS = "address"


class LoginFailure(SQLModel, table=True):
    __tablename__ = "login_failure"
    kind: str = Field(primary_key=True, max_length=10)  # "account" or "address"
    key_hash: str = Field(primary_key=True, max_length=64)
    window_start: datetime = Field(index=True)
    count: int = 0


_table = LoginFailure.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Lockout:
    """Sign-in is refused for this key kind until ``until``."""

    kind: str
    until: datetime

    def retry_after(self, now: datetime) -> int:
        """Whole seconds to wait, at least 1 (for the Retry-After header)."""
        return max(1, int((self.until - now).total_seconds() + 0.999))


def _window() -> timedelta:
    return timedelta(seconds=get_settings().auth.failure_window_seconds)


def _limit(kind: str) -> int:
    auth = get_settings().auth
    return auth.max_failures_per_account if kind == ACCOUNT else auth.max_failures_per_address


def key_hash(kind: str, value: str) -> str:
    secret = get_settings().resolved_secret_key().encode()
    return hmac.new(secret, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()


def _keys(email: str, address: str) -> dict[str, str]:
    """kind -> key hash; the e-mail as typed is normalised the way sign-in matches it."""
    return {
        ACCOUNT: key_hash(ACCOUNT, email_key(email)),
        ADDRESS: key_hash(ADDRESS, address or "unknown"),
    }


def lockout(
    session: Session, email: str, address: str, now: datetime | None = None
) -> Lockout | None:
    """The lockout in force for this e-mail or address (the later one), else None."""
    now = now or utcnow()
    keys = _keys(email, address)
    rows = session.execute(
        select(_table.c.kind, _table.c.window_start, _table.c.count).where(
            or_(*(and_(_table.c.kind == k, _table.c.key_hash == h) for k, h in keys.items())),
            _table.c.window_start > now - _window(),
        )
    ).all()
    found = [
        Lockout(kind, window_start + _window())
        for kind, window_start, count in rows
        if count >= _limit(kind)
    ]
    return max(found, key=lambda lock: lock.until, default=None)


def _bump(session: Session, kind: str, digest: str, now: datetime) -> int:
    """Count one failure atomically (concurrent web processes) and return the new count."""
    dialect = session.get_bind().dialect.name
    insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_table).values(kind=kind, key_hash=digest, window_start=now, count=1)
    expired = _table.c.window_start <= now - _window()
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "key_hash"],
        set_={
            "count": case((expired, 1), else_=_table.c.count + 1),
            "window_start": case(
                (expired, statement.excluded.window_start), else_=_table.c.window_start
            ),
        },
    ).returning(_table.c.count)
    count: int = session.execute(statement).scalar_one()
    return count


def record_failure(
    session: Session, email: str, address: str, now: datetime | None = None
) -> list[str]:
    """Count a failed sign-in for both keys; returns the kinds this failure locked out.

    Joins the caller's transaction (no commit), so the audit row of a lockout goes with it.
    """
    now = now or utcnow()
    return [
        kind
        for kind, digest in _keys(email, address).items()
        if _bump(session, kind, digest, now) == _limit(kind)
    ]


def record_address_failure(session: Session, address: str, now: datetime | None = None) -> bool:
    """Count a failure against the client address only, for a sign-in that named no account
    (e.g. a single sign-on callback with a wrong state); True when this one locked it.

    Joins the caller's transaction (no commit).
    """
    digest = _keys("", address)[ADDRESS]
    return _bump(session, ADDRESS, digest, now or utcnow()) == _limit(ADDRESS)


def reset_account(session: Session, email: str) -> None:
    """Forget the failures of this e-mail after a successful sign-in (no commit)."""
    digest = _keys(email, "")[ACCOUNT]
    session.execute(delete(_table).where(_table.c.kind == ACCOUNT, _table.c.key_hash == digest))


def purge(session: Session, now: datetime | None = None) -> int:
    """Delete rows whose window has passed; returns how many (no commit)."""
    now = now or utcnow()
    result = session.execute(delete(_table).where(_table.c.window_start <= now - _window()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


PURGE_EVERY = timedelta(hours=1)


def purge_job(engine: Engine, payload: dict[str, Any]) -> None:
    with Session(engine) as session:
        purge(session)
        session.commit()
