"""The outbox vocabulary: the message row, its states and kinds, and who is addressed where.

Every message to an ASN is one ``outbox_message`` row written in the same transaction as
the change it tells about (assignments, reminders, digests, confirmations), so a crash never
leaves a message without its cause or the other way round. ``scheduler.deliver`` sends them.

Texts hold ``INBOX_LINK`` where the personal magic link goes: the link is a sign-in
credential, so it is minted at send time instead of resting in the database for days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from sqlalchemy import Index
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from gaung.db import utcnow
from gaung.errors import GaungError


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed: a send is being attempted under a lease
    SENT = "sent"
    FAILED = "failed"
    # The worker died after claiming, maybe after sending: never resent blindly.
    UNKNOWN = "unknown"
    # An unknown one Humas chose to send again: the copy is a new message (web/messages_console).
    RESENT = "resent"
    # Not sent because what it announced was called off first (a withdrawn post).
    CANCELLED = "cancelled"


class OutboxKind(StrEnum):
    ASSIGNMENT = "assignment"
    REMINDER = "reminder"
    DIGEST = "digest"
    TELEGRAM_LINKED = "telegram_linked"
    WITHDRAWAL = "withdrawal"  # a dispatched post was withdrawn (scheduler.withdrawal)
    FEEDBACK_REPLY = "feedback_reply"  # Humas answered feedback (scheduler.feedback_reply)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (
        # Which messengers have due messages, and each one's claim, oldest first, without a
        # sort and without reading other messengers' backlog (scheduler.deliver).
        Index("ix_outbox_message_due_messenger", "status", "messenger", "run_at"),
        # Urgent messages only (scheduler.deliver claims them first).
        Index(
            "ix_outbox_message_urgent",
            "status",
            "messenger",
            "run_at",
            sqlite_where=sql_text("priority > 0"),
            postgresql_where=sql_text("priority > 0"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)  # idempotency key, also sent to the provider
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id")
    # The campaign it is about (None for a digest), so Humas sees failures per campaign.
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    kind: str = Field(default=OutboxKind.ASSIGNMENT, max_length=20)
    # Higher goes first (urgent hoax clarifications: 1).
    priority: int = 0
    asn_id: int = Field(foreign_key="asn.id", index=True)
    messenger: str = Field(max_length=20)
    recipient: str | None = Field(default=None, max_length=254)
    subject: str = Field(max_length=500)
    text: str = Field(max_length=5000)
    html: str | None = Field(default=None, max_length=20000)
    template: str | None = Field(default=None, max_length=100)
    params: str | None = Field(default=None, max_length=4000)  # JSON object
    status: str = Field(default=OutboxStatus.QUEUED, max_length=20)
    attempts: int = 0
    run_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    worker: str | None = Field(default=None, max_length=100)
    provider_id: str | None = Field(default=None, max_length=200)
    last_error: str | None = Field(default=None, max_length=4000)
    # Failed only after transient errors used up every attempt: Humas may retry it.
    retryable: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


# Replaced by the personal magic link when the message is sent.
INBOX_LINK = "[[gaung:inbox-link]]"
# In WhatsApp params only: replaced by the ASN's name when the message is sent.
NAME = "[[gaung:asn-name]]"
# The WhatsApp template every assignment notice uses: {{1}} name, {{2}} campaign,
# {{3}} deadline, {{4}} inbox link. It must be approved in the WhatsApp Business account.
WHATSAPP_TEMPLATE = "gaung_assignment"
NO_ADDRESS = "no address"


@dataclass(frozen=True)
class PersonMessenger:
    """How a messenger a person can choose reaches them; each messenger module declares one.

    The composition root (``wiring``) registers it beside the messenger itself, so the
    enrolment form, the roster import, the inbox settings and the outbox all read the
    same list and never disagree about who can be reached where.
    """

    slug: str
    # The Asn column holding the person's address on this messenger.
    address_field: Literal["email", "telegram_chat_id", "phone"]
    label: str  # msgid (or brand name) naming the messenger to people
    # Why the address is required when it is missing (None: linked later, as Telegram is).
    address_needed: str | None = None
    # Offered only once the operator set it up (most agencies never run an SMS gateway).
    offered_when_set_up: bool = False
    # Can carry a free-text sign-in link (WhatsApp carries approved templates only).
    carries_sign_in_link: bool = False


# slug -> declaration, in the order people are offered them. Filled by wiring.
PERSON_MESSENGERS: dict[str, PersonMessenger] = {}


def register_person_messenger(spec: PersonMessenger) -> None:
    PERSON_MESSENGERS[spec.slug] = spec


def missing_address(messenger: str, *, email: str | None, phone: str | None) -> GaungError | None:
    """The error for a person who chose ``messenger`` without the address it needs, if so."""
    spec = PERSON_MESSENGERS.get(messenger)
    if spec is None or spec.address_needed is None:
        return None
    given = {"email": email, "phone": phone}.get(spec.address_field)
    if given:
        return None
    return GaungError(spec.address_needed, field=spec.address_field)


def address_field(messenger: str) -> str | None:
    """The Asn column holding a person's address on ``messenger`` (None: not a person's)."""
    spec = PERSON_MESSENGERS.get(messenger)
    return spec.address_field if spec else None


def message_key(post_id: int, asn_id: int) -> str:
    return f"post:{post_id}:asn:{asn_id}"
