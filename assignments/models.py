"""One assignment per ASN per platform per post, and the clicks on its tracking link."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from gaung.db import utcnow


class AssignmentStatus(StrEnum):
    PENDING = "pending"
    REPORTED = "reported"
    VERIFIED = "verified"
    REJECTED = "rejected"
    DECLINED = "declined"
    EXPIRED = "expired"
    # Still open when Humas withdrew the post (content.workflow.withdraw): nothing to do.
    WITHDRAWN = "withdrawn"


class Assignment(SQLModel, table=True):
    __table_args__ = (
        # Dispatch idempotency: a second run can never insert the same row again.
        UniqueConstraint("post_id", "asn_id", "platform", name="uq_assignment_post_asn_platform"),
        # A repost link can be reported once, by one assignment.
        UniqueConstraint("platform", "repost_key", name="uq_assignment_repost"),
        Index("ix_assignment_campaign_platform", "campaign_id", "platform"),
    )
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id")
    # Denormalised at dispatch so reach queries need no joins and survive an ASN leaving.
    campaign_id: int = Field(foreign_key="campaign.id")
    unit_id: int = Field(foreign_key="unit.id")
    asn_id: int | None = Field(default=None, foreign_key="asn.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="social_account.id")
    platform: str = Field(max_length=20)
    code: str = Field(unique=True, max_length=32)  # personal tracking code (/r/{code})
    text: str = Field(max_length=5000)
    # Which of the post's approved texts for this platform ``text`` was rendered from:
    # 0 its own text (or the master text), 1..5 an alternative (content.models.PostVariant).
    variant: int = Field(default=0)
    status: str = Field(default=AssignmentStatus.PENDING, max_length=20)
    deadline: datetime
    created_at: datetime = Field(default_factory=utcnow)
    repost_url: str | None = Field(default=None, max_length=500)
    # Canonical identity of the repost (platform post id or normalised URL).
    repost_key: str | None = Field(default=None, max_length=200)
    reported_at: datetime | None = None
    followers_at_report: int | None = None
    decline_reason: str | None = Field(default=None, max_length=500)
    # Verification (assignments.evidence): when evidence first confirmed the repost, why a
    # reported link was rejected, and when a verified repost was later seen deleted (it stays
    # VERIFIED: the repost did happen and its reach was real, but supervisors see the flag).
    verified_at: datetime | None = None
    rejection_reason: str | None = Field(default=None, max_length=40)
    flagged_gone_at: datetime | None = None


class Click(SQLModel, table=True):
    """A visit to a tracking link. No IP address is stored."""

    # Indexed by (campaign_id, assignment_id) too: assignments.reach.CLICKS_BY_ASSIGNMENT.
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    # The assignment's campaign, copied so clicks are read by campaign without a join. No
    # foreign key of its own: the assignment's vouches for it, and every redirect is a row
    # (migration 0010).
    campaign_id: int
    at: datetime = Field(default_factory=utcnow)
    # Platform the visitor came from, inferred from the Referer header; "" when unknown.
    source: str = Field(default="", max_length=20)
    # Who clicked, as 64 bits of an HMAC (the app's secret key) of the visitor's address and
    # user agent under a salt of the click's day (UTC): distinct per link and day, so unique
    # clickers can be counted; the address is never stored. None: clicks before 0019.
    clicker: int | None = Field(default=None, sa_type=BigInteger)


class BotFetch(SQLModel, table=True):
    """Fetches of a tracking link by known bots and link-preview fetchers, per day (UTC).

    They are answered like clicks (a link preview must work) but are not clicks: one
    counter row per link and day, added to by the click writer (assignments.tracking).
    """

    __tablename__ = "bot_fetch"
    assignment_id: int = Field(foreign_key="assignment.id", primary_key=True)
    day: date = Field(primary_key=True)
    campaign_id: int = Field(index=True)  # the assignment's, copied as on click
    fetches: int = Field(default=0)
