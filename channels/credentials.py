"""Platform and messenger secrets, set by an admin in the console and encrypted at rest.

Resolution order for every channel: the value stored in ``channel_credential`` (a
Fernet token, see gaung.crypto), else the environment / settings.toml value. The
stored values are read at most every few seconds per process, so a token saved in the
console reaches every web process and worker shortly after, without a restart.

A stored value that cannot be decrypted (the key it was written with is no longer in
``GAUNG_ENCRYPTION_KEYS``) raises :class:`CredentialError` naming the credential: falling
back silently to an older environment token would hide the operator's mistake.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import Column, String, delete, select, type_coerce
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel

from gaung import crypto
from gaung.db import get_engine, utcnow
from gaung.errors import N_
from gaung.settings import get_settings

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
MAX_LENGTH = 4096
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Spec:
    """One secret: ``<settings section>.<field>`` and its label in the console."""

    name: str
    label: str

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def field(self) -> str:
        return self.name.split(".", 1)[1]


SPECS: tuple[Spec, ...] = (
    Spec("x.bearer_token", N_("X API bearer token")),
    Spec("graph.access_token", N_("Meta Graph API access token (Facebook, Instagram)")),
    Spec("graph.app_secret", N_("Meta app secret (appsecret_proof)")),
    Spec("telegram.bot_token", N_("Telegram bot token")),
    Spec("whatsapp.access_token", N_("WhatsApp Cloud API access token")),
    Spec("smtp.password", N_("SMTP password")),
    Spec("webhook.token", N_("Message gateway token (webhook)")),
)
BY_NAME = {spec.name: spec for spec in SPECS}


class ChannelCredential(SQLModel, table=True):
    __tablename__ = "channel_credential"
    name: str = Field(primary_key=True, max_length=60)
    value: str = Field(sa_column=Column(crypto.EncryptedString(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: int | None = Field(default=None, foreign_key="user.id")


_table = ChannelCredential.__table__  # type: ignore[attr-defined]


class CredentialError(Exception):
    """A stored credential cannot be decrypted with the configured keys."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"channel credential {name!r} cannot be decrypted with the keys in "
            f"{crypto.KEYS_ENV}: put back the key it was saved with, or set it again "
            "in the console (Channels)"
        )
        self.name = name


# Stored ciphertexts of one engine, and when they were read (monotonic clock).
_cache: dict[int, tuple[float, dict[str, str]]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget what was read (this process only; others follow within CACHE_SECONDS)."""
    with _lock:
        _cache.clear()


@dataclass(frozen=True)
class Stored:
    """A stored credential as read, still encrypted (``token``)."""

    name: str
    token: str
    updated_at: datetime
    updated_by: int | None


def stored_rows(session: Session) -> dict[str, Stored]:
    """name -> row, without decrypting: a value under a lost key hurts that name only."""
    raw = type_coerce(_table.c.value, String)
    columns = (_table.c.name, raw, _table.c.updated_at, _table.c.updated_by)
    return {row[0]: Stored(*row) for row in session.execute(select(*columns)).all()}


def stored_ciphertexts(session: Session) -> dict[str, str]:
    """name -> Fernet token as stored."""
    return {name: row.token for name, row in stored_rows(session).items()}


def save(session: Session, name: str, value: str, user_id: int | None) -> None:
    """Store (replace) a credential, encrypted; no commit. Replacing never reads the old
    value, so one saved under a lost key can still be overwritten."""
    session.execute(delete(_table).where(_table.c.name == name))
    session.add(ChannelCredential(name=name, value=value, updated_at=utcnow(), updated_by=user_id))


def remove(session: Session, name: str) -> bool:
    """Delete a stored credential (the environment applies again); no commit."""
    result = session.execute(delete(_table).where(_table.c.name == name))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _stored() -> dict[str, str]:
    engine = get_engine()
    now = time.monotonic()
    with _lock:
        cached = _cache.get(id(engine))
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    try:
        with Session(engine) as session:
            found = stored_ciphertexts(session)
    except SQLAlchemyError as exc:
        # Not migrated yet, or the database is down: the environment still works.
        log.warning("channel credentials not readable, using settings: %s", type(exc).__name__)
        found = {}
    with _lock:
        _cache[id(engine)] = (now, found)
    return found


def _decrypted(name: str, token: str) -> str:
    try:
        return crypto.decrypt(token)
    except crypto.DecryptionError:
        raise CredentialError(name) from None


def credential(name: str) -> str:
    """The secret ``name`` (e.g. "x.bearer_token"): the stored value, else settings."""
    spec = BY_NAME[name]
    token = _stored().get(name)
    if token:
        return _decrypted(name, token)
    value: str = getattr(getattr(get_settings(), spec.section), spec.field)
    return value


def overlay(section: str, settings: M) -> M:
    """``settings`` (a section such as get_settings().telegram) with stored secrets in place."""
    stored = _stored()
    updates = {
        spec.field: _decrypted(spec.name, stored[spec.name])
        for spec in SPECS
        if spec.section == section and stored.get(spec.name)
    }
    return settings.model_copy(update=updates) if updates else settings
