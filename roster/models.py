"""Tables of people and accounts. One enrolled account per platform per person."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel

from gaung.crypto import EncryptedString
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
    # A pending enrolment Humas turned down (roster.review.reject), with a reason.
    REJECTED = "rejected"


class Agency(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=200)
    # Overrides settings.disclosure_tag for this agency's renditions.
    disclosure_tag: str | None = Field(default=None, max_length=60)
    created_at: datetime = Field(default_factory=utcnow)
    # Agency settings (roster.agencies, /console/agency). The logo is a file name in
    # settings.media_dir (content.media); None everywhere means "the instance's setting".
    logo: str | None = Field(default=None, max_length=100)
    timezone: str | None = Field(default=None, max_length=40)  # Asia/Jakarta, Makassar, Jayapura
    default_deadline_hours: int | None = None  # a new campaign's deadline, after its start
    # platform -> minimum followers, only where stricter than settings.eligibility.
    min_followers: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Admins and approvers must enrol a second factor (TOTP) at their next sign-in.
    require_two_factor: bool = False
    # The monthly leaderboard of opted-in ASN (roster.recognition); the admin may turn it off.
    leaderboard: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})


class AgencyNetwork(SQLModel, table=True):
    """A network of agencies coordinated by one of them (e.g. Bakohumas, led by Kominfo).

    Set up by the instance operator (roster.networks). The coordinator offers its campaigns
    to the members (content.offers); each member's approver accepts or declines them.
    """

    __tablename__ = "agency_network"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    # One network per coordinator, so "offer to my network" names exactly one list.
    coordinator_id: int = Field(foreign_key="agency.id", unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class AgencyNetworkMember(SQLModel, table=True):
    __tablename__ = "agency_network_member"
    network_id: int = Field(foreign_key="agency_network.id", primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", primary_key=True)
    added_at: datetime = Field(default_factory=utcnow)


class Unit(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("agency_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    name: str = Field(max_length=200)
    # The unit's own zone when it is not the agency's (NULL: the agency's, then the instance's).
    timezone: str | None = Field(default=None, max_length=40)


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
    # Bumped (roster.security) on a password change or deactivation: ends every session.
    session_epoch: int = 0
    # TOTP second factor (roster.two_factor): the secret (encrypted at rest) is set at
    # enrolment and in force once confirmed with a code (totp_enabled_at); the last time
    # step accepted, so a code is never accepted twice.
    totp_secret: str | None = Field(default=None, sa_column=Column(EncryptedString()))
    totp_enabled_at: datetime | None = None
    totp_last_step: int | None = None


class StaffToken(SQLModel, table=True):
    """A one-time link for a staff member to set a password: an invitation or a reset.

    Only the SHA-256 of the token is stored (roster.staff); it expires and works once.
    """

    __tablename__ = "staff_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    purpose: str = Field(max_length=20)  # "invite" or "reset"
    token_hash: str = Field(unique=True, max_length=64)
    expires_at: datetime
    used_at: datetime | None = None
    created_by: int | None = Field(default=None, foreign_key="user.id")
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
    # SHA-256 of the one-time token in the ASN's t.me/<bot>?start=<token> deep link, and
    # when it stops working (channels.telegram_updates); the token itself is never stored.
    telegram_link_hash: str | None = Field(default=None, max_length=64, index=True)
    telegram_link_expires_at: datetime | None = None
    # Delivery preferences (web/inbox_settings.py): no non-urgent reminders; one daily
    # digest of new non-urgent assignments instead of a notice per assignment.
    mute_reminders: bool = False
    digest: bool = False
    status: str = Field(default=AsnStatus.PENDING, max_length=20, index=True)
    consent_at: datetime | None = None
    consent_version: str | None = Field(default=None, max_length=20)
    # Self-enrolment (roster.enrolment) and Humas' review (roster.review); the note is the
    # reason given for the last rejection or suspension.
    invitation_id: int | None = Field(default=None, foreign_key="invitation.id")
    approved_at: datetime | None = None
    reviewed_at: datetime | None = None
    reviewed_by: int | None = Field(default=None, foreign_key="user.id")
    review_note: str | None = Field(default=None, max_length=500)
    locale: str = Field(default="id", max_length=8)
    # Bumped to invalidate every magic link already sent.
    login_epoch: int = 0
    # Bumped when the ASN signs out or Humas revokes their sign-in: ends every inbox session
    # (a copy of the signed cookie included) without touching the links already sent.
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
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
    # NULL until the ownership check learns it (self-enrolment only knows the handle).
    platform_user_id: str | None = Field(default=None, max_length=64)
    # Stored lower-case without "@", so look-ups are exact.
    handle: str = Field(max_length=100, index=True)
    followers: int = 0
    followers_at: datetime | None = None
    ownership_verified_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    """A self-enrolment link (/enrol/{token}) for an agency, or for one of its units."""

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    # Unguessable and shown again in the console (it is shared on purpose), so stored plain.
    token: str = Field(unique=True, max_length=64)
    label: str = Field(default="", max_length=200)
    expires_at: datetime | None = None
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    revoked_by: int | None = Field(default=None, foreign_key="user.id")


class OwnershipState(StrEnum):
    WAITING = "waiting"  # code issued, the ASN has not asked for a check yet
    CHECKING = "checking"  # a check job is queued
    NOT_FOUND = "not_found"  # the code was not in the bio / post
    VERIFIED = "verified"
    MANUAL = "manual"  # the platform cannot be read: Humas confirms by hand
    TAKEN = "taken"  # the account is enrolled by someone else
    ERROR = "error"  # the platform could not be reached or the account does not exist


class OwnershipCheck(SQLModel, table=True):
    """The one-time code proving an enrolled account is the ASN's, and its last check."""

    __tablename__ = "ownership_check"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="social_account.id", unique=True)
    # Published by the ASN in their bio, so not a secret: stored plain, with an expiry.
    code: str = Field(max_length=20)
    expires_at: datetime
    state: str = Field(default=OwnershipState.WAITING, max_length=20)
    # English msgid explaining the state (shown translated in the inbox and console).
    detail: str = Field(default="", max_length=500)
    # Facebook: a post whose text holds the code (a personal profile's bio is unreadable).
    proof_url: str | None = Field(default=None, max_length=500)
    requests: int = 0  # checks asked for; part of each check job's idempotency key
    checked_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
