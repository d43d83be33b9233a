"""Tables of people and accounts. One enrolled account per platform per person."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from gaung.db import utcnow


class Platform(StrEnum):
    X = "x"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    APPROVER = "approver"
    SUPERVISOR = "supervisor"


class AsnStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LEFT = "left"


class Agency(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=200)
    # Overrides settings.disclosure_tag for this agency's renditions.
    disclosure_tag: str | None = Field(default=None, max_length=60)
    created_at: datetime = Field(default_factory=utcnow)


class Unit(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("agency_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    name: str = Field(max_length=200)


class User(SQLModel, table=True):
    """Humas staff and supervisors; they sign in with a password (argon2)."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=254)
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=20)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    locale: str = Field(default="id", max_length=8)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class Asn(SQLModel, table=True):
    """A civil servant enrolled as an influencer. Never holds a platform password."""

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    # NIP: 18-digit civil-servant number; erased (NULL) when the ASN leaves.
    nip: str | None = Field(default=None, unique=True, max_length=18)
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, unique=True, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    messenger: str = Field(default="email", max_length=20)
    # Where the Telegram bot reaches this ASN (they start the bot; it learns the chat id).
    telegram_chat_id: str | None = Field(default=None, max_length=32)
    status: str = Field(default=AsnStatus.PENDING, max_length=20, index=True)
    consent_at: datetime | None = None
    consent_version: str | None = Field(default=None, max_length=20)
    locale: str = Field(default="id", max_length=8)
    # Bumped to invalidate every magic link already sent.
    login_epoch: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class SocialAccount(SQLModel, table=True):
    __tablename__ = "social_account"
    __table_args__ = (
        UniqueConstraint("asn_id", "platform", name="uq_account_asn_platform"),
        UniqueConstraint("platform", "platform_user_id", name="uq_account_platform_user"),
    )
    id: int | None = Field(default=None, primary_key=True)
    asn_id: int = Field(foreign_key="asn.id", index=True)
    platform: str = Field(max_length=20)
    platform_user_id: str = Field(max_length=64)
    # Stored lower-case without "@", so look-ups are exact.
    handle: str = Field(max_length=100, index=True)
    followers: int = 0
    followers_at: datetime | None = None
    ownership_verified_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
