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
    # Which of the post's approved texts for this platform the ASN gets: 0 its own text
    # (or the master text), 1..5 an alternative (content.models.PostVariant). The text is
    # not stored (migration 0031): assignments.texts renders it from the post when read.
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


class DispatchPartStatus(StrEnum):
    RUNNING = "running"  # created, or some chunks committed: resumes after its cursor
    DONE = "done"  # every eligible account of every platform has its assignment
    CANCELLED = "cancelled"  # the post was withdrawn (or deleted) while the part ran


class DispatchPart(SQLModel, table=True):
    """One unit of a post's dispatch: the post's assignments for one agency (optionally some
    of its units), created in chunks by scheduler.dispatch; each part is its own work item,
    so different workers take different parts in parallel.

    The cursor (``platform_index``, ``after_asn_id``, ``platform_done``) is moved in the
    same transaction as the chunk it describes, so a crash resumes after the last committed
    chunk. While a post has parts and is not yet dispatched (``post.dispatched_at`` NULL),
    its assignments are hidden from the ASN (assignments.reporting).
    """

    __tablename__ = "dispatch_part"
    __table_args__ = (
        UniqueConstraint("post_id", "agency_id", "unit_filter", name="uq_dispatch_part"),
    )
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    agency_id: int = Field(foreign_key="agency.id")
    # Comma-separated unit ids the part is limited to; "" = the agency's whole campaign scope.
    unit_filter: str = Field(default="", max_length=2000)
    status: str = Field(default=DispatchPartStatus.RUNNING, max_length=20)
    platform_index: int = Field(default=0)  # position in post.platform_list() being created
    after_asn_id: int = Field(default=0)  # keyset: the last ASN id done on that platform
    platform_done: int = Field(default=0)  # assignments made on that platform so far
    done: int = Field(default=0)  # assignments made by the part, all platforms
    total: int = Field(default=0)  # eligible accounts counted when the part was created
    chunks: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
