"""Campaigns and posts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from gaung.db import utcnow


class CampaignKind(StrEnum):
    PROGRAM = "program"
    ACHIEVEMENT = "achievement"
    HOAX_CLARIFICATION = "hoax_clarification"
    ANNOUNCEMENT = "announcement"


class PostStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    APPROVED = "approved"  # scheduled: waiting for its time in the queue
    DISPATCHED = "dispatched"
    # Taken back by an approver before or after dispatch (content.workflow.withdraw).
    WITHDRAWN = "withdrawn"


class Campaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    title: str = Field(max_length=200)
    kind: str = Field(max_length=30)
    starts_at: datetime
    deadline: datetime
    # Hours before the deadline to remind ASN who have not reposted, e.g. "24,3";
    # None = settings.reminders.default_hours (scheduler.reminders).
    reminder_hours: str | None = Field(default=None, max_length=60)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    # A network member's copy of a coordinator's campaign, made when its approver accepted
    # the offer (content.offers): the member's own people, units and deadline.
    source_campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)


class CampaignUnit(SQLModel, table=True):
    """Target units of a campaign; no rows means the whole agency."""

    __tablename__ = "campaign_unit"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)


class Post(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    master_text: str = Field(max_length=5000)
    link: str | None = Field(default=None, max_length=2000)
    image_path: str | None = Field(default=None, max_length=300)
    hashtags: str = Field(default="", max_length=500)  # space-separated, without '#'
    # Comma-separated platform slugs this post goes to.
    platforms: str = Field(default="x,facebook,instagram", max_length=60)
    # The agency's own official post per platform (what ASN repost/quote).
    official_url_x: str | None = Field(default=None, max_length=500)
    official_url_facebook: str | None = Field(default=None, max_length=500)
    official_url_instagram: str | None = Field(default=None, max_length=500)
    status: str = Field(default=PostStatus.DRAFT, max_length=20, index=True)
    urgent: bool = False
    scheduled_at: datetime | None = None
    approver_id: int | None = Field(default=None, foreign_key="user.id")
    reviewed_at: datetime | None = None
    review_note: str | None = Field(default=None, max_length=2000)
    dispatched_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # In a network member's campaign copy: the coordinator's post this one repeats; it goes
    # out with it, and is withdrawn and corrected with it (content.offers, content.workflow).
    source_post_id: int | None = Field(default=None, foreign_key="post.id", index=True)

    def platform_list(self) -> list[str]:
        return [p for p in self.platforms.split(",") if p]

    def hashtag_list(self) -> list[str]:
        return [h.lstrip("#") for h in self.hashtags.split() if h.strip("#")]

    def official_url(self, platform: str) -> str | None:
        value: str | None = getattr(self, f"official_url_{platform}", None)
        return value


class OfferStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class CampaignOffer(SQLModel, table=True):
    """A coordinator's campaign offered to one member agency of its network, and the
    member's answer: accepted (``copy_id``: the member's own copy of the campaign, with its
    units and deadline) or declined with a note. One offer per campaign and agency."""

    __tablename__ = "campaign_offer"
    __table_args__ = (UniqueConstraint("campaign_id", "agency_id", name="uq_campaign_offer"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    network_id: int = Field(foreign_key="agency_network.id")
    status: str = Field(default=OfferStatus.OFFERED, max_length=20)
    offered_by: int | None = Field(default=None, foreign_key="user.id")
    offered_at: datetime = Field(default_factory=utcnow)
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = None
    note: str | None = Field(default=None, max_length=2000)  # why it was declined
    copy_id: int | None = Field(default=None, foreign_key="campaign.id")


class PostVariant(SQLModel, table=True):
    """A text of a post for one platform, written by the editor and approved with the post.

    Position 0 is the platform's own text, used there instead of the master text (e.g. a
    shorter X text); 1..5 are alternative captions. Dispatch spreads a platform's texts
    (its own or the master text, then the alternatives) evenly over the ASN, so thousands
    of accounts do not all post the identical words. Nothing here is generated.
    """

    __tablename__ = "post_variant"
    post_id: int = Field(foreign_key="post.id", primary_key=True)
    platform: str = Field(max_length=20, primary_key=True)
    position: int = Field(primary_key=True)
    text: str = Field(max_length=5000)


class CampaignRecurrence(SQLModel, table=True):
    """A campaign that comes back: an RFC 5545 rule whose occurrences become new campaigns.

    ``rule`` is the RRULE value (e.g. "FREQ=WEEKLY;BYDAY=FR"); its DTSTART is
    ``first_at`` (UTC) read as wall time in ``timezone``, so 09:00 WITA stays 09:00 WITA.
    Each occurrence copies the campaign and its posts as drafts (content.recurrence),
    which still go through approval.
    """

    __tablename__ = "campaign_recurrence"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", unique=True)
    rule: str = Field(max_length=300)
    first_at: datetime
    timezone: str = Field(max_length=40)
    active: bool = Field(default=True, index=True)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RecurrenceOccurrence(SQLModel, table=True):
    """One occurrence of a rule that was made (once: the primary key), and its campaign.

    ``campaign_id`` has no foreign key: deleting the campaign made for an occurrence
    leaves the row, so that occurrence is not made again.
    """

    __tablename__ = "recurrence_occurrence"
    recurrence_id: int = Field(foreign_key="campaign_recurrence.id", primary_key=True)
    # The occurrence's moment in UTC, RFC 5545 form ("20261211T010000Z").
    occurrence: str = Field(primary_key=True, max_length=20)
    campaign_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
