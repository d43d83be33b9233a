"""Measured figures: platform metrics snapshots and the API calls they cost.

A snapshot is taken 1 h, 24 h and 72 h after a verified repost (and after the official post
went out), one row per window, so the dashboard can show how a post's numbers grew. Counts are
stored exactly as the platform returned them: ``None`` means "not returned" (no API for it,
a plain retweet, a deleted post), never zero.

``ApiUsage`` counts billed platform calls per campaign, platform, purpose and day (X bills
reads per call); verification calls stay in ``VerifyCursor.api_calls``. Work not tied to a
campaign (the daily follower refresh) is counted under ``campaign_id = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel

from gaung.db import utcnow

NO_CAMPAIGN = 0  # ApiUsage.campaign_id of work done for the whole roster


@dataclass(frozen=True)
class Metrics:
    """Counts as the platform reports them; None means "not returned", never zero."""

    impressions: int | None = None
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None


class Window(StrEnum):
    H1 = "1h"
    H24 = "24h"
    H72 = "72h"


SPANS: dict[str, timedelta] = {
    Window.H1: timedelta(hours=1),
    Window.H24: timedelta(hours=24),
    Window.H72: timedelta(hours=72),
}


class Purpose(StrEnum):
    METRICS = "metrics"
    FOLLOWERS = "followers"


class _Counts(SQLModel):
    impressions: int | None = None
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None

    def fill(self, metrics: Metrics | None) -> None:
        if metrics is not None:
            self.impressions, self.likes = metrics.impressions, metrics.likes
            self.reposts, self.replies = metrics.reposts, metrics.replies

    @property
    def engagement(self) -> int | None:
        """Likes + reposts + replies, or None when the platform returned none of them."""
        parts = [v for v in (self.likes, self.reposts, self.replies) if v is not None]
        return sum(parts) if parts else None


class RepostMetrics(_Counts, table=True):
    """An ASN's repost as measured ``window`` after it was posted."""

    __tablename__ = "repost_metrics"
    __table_args__ = (
        UniqueConstraint("assignment_id", "window", name="uq_repost_metrics_window"),
        Index("ix_repost_metrics_campaign", "campaign_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id")
    campaign_id: int = Field(foreign_key="campaign.id")  # denormalised for per-campaign sums
    platform: str = Field(max_length=20)
    window: str = Field(max_length=4)
    platform_post_id: str = Field(max_length=100)
    taken_at: datetime = Field(default_factory=utcnow)


class PostMetrics(_Counts, table=True):
    """The agency's own official post on one platform, measured ``window`` after dispatch."""

    __tablename__ = "post_metrics"
    __table_args__ = (
        UniqueConstraint("post_id", "platform", "window", name="uq_post_metrics_window"),
        Index("ix_post_metrics_campaign", "campaign_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id")
    campaign_id: int = Field(foreign_key="campaign.id")
    platform: str = Field(max_length=20)
    window: str = Field(max_length=4)
    platform_post_id: str = Field(max_length=100)
    taken_at: datetime = Field(default_factory=utcnow)


class ApiUsage(SQLModel, table=True):
    """Billed platform calls, summed per campaign, platform, purpose and (UTC) day."""

    __tablename__ = "api_usage"
    # No foreign key on campaign_id: 0 stands for roster-wide work.
    campaign_id: int = Field(primary_key=True)
    platform: str = Field(max_length=20, primary_key=True)
    purpose: str = Field(max_length=20, primary_key=True)
    day: date = Field(primary_key=True)
    calls: int = 0


def count_calls(
    session: Session,
    *,
    platform: str,
    purpose: str,
    calls: int,
    campaign_id: int = NO_CAMPAIGN,
    day: date | None = None,
) -> None:
    """Add ``calls`` to the day's counter in the caller's transaction (an atomic upsert)."""
    if calls <= 0:
        return
    table = ApiUsage.__table__  # type: ignore[attr-defined]
    values = {
        "campaign_id": campaign_id,
        "platform": platform,
        "purpose": purpose,
        "day": day or utcnow().date(),
        "calls": calls,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["campaign_id", "platform", "purpose", "day"],
            set_={"calls": table.c.calls + statement.excluded.calls},
        )
    )


def channel_calls(channel: object) -> int:
    """Billed calls a channel instance has made so far (X counts itself; Graph its client)."""
    calls = getattr(channel, "calls", None)
    if calls is None:
        calls = getattr(getattr(channel, "client", None), "calls", 0)
    return int(calls or 0)
