"""Dispatch: turn one approved post into personal repost assignments, in one transaction.

The status flip APPROVED -> DISPATCHED is the first statement, so it both locks the
post row and decides which of two concurrent dispatchers goes ahead; the unique
constraint (post_id, asn_id, platform) is the last line of defence. Any exception
rolls everything back, leaving the post APPROVED for the retry.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from assignments.models import Assignment, AssignmentStatus
from content import variants
from content.models import Campaign, CampaignUnit, Post, PostStatus
from content.rendering import (
    TRACKING_PLACEHOLDER,
    disclosure_tag_for,
    fill_tracking_url,
    platform_texts,
    render,
)
from gaung.db import utcnow
from gaung.errors import GaungError, NotFoundError
from gaung.settings import get_settings
from kernel import audit, webhooks
from kernel.webhooks import EventType
from roster.eligibility import eligible_accounts
from roster.models import Agency

log = logging.getLogger(__name__)

# Hooks run inside the dispatch transaction after the assignments are inserted, with
# (connection, post_id): e.g. messenger outbox rows that must exist iff assignments do.
after_assignments: list[Callable[[Connection, int], None]] = []

CODE_BYTES = 9  # secrets.token_urlsafe(9): 12 URL-safe characters, 72 random bits
ASSIGNMENT_COLUMNS = (
    "post_id",
    "campaign_id",
    "unit_id",
    "asn_id",
    "account_id",
    "platform",
    "code",
    "text",
    "variant",
    "status",
    "deadline",
    "created_at",
)
_table = Assignment.__table__  # type: ignore[attr-defined]
_post = Post.__table__  # type: ignore[attr-defined]


def dispatch_job(engine: Engine, payload: dict[str, Any]) -> None:
    post_id = int(payload["post_id"])
    try:
        created = dispatch_post(engine, post_id)
    except GaungError as exc:
        # Withdrawn or deleted since it was queued: nothing to send, and retrying won't help.
        log.warning("dispatch of post %s skipped: %s", post_id, exc)
        return
    log.info("post %s dispatched: %s assignments", post_id, created)


def dispatch_post(engine: Engine, post_id: int) -> int:
    """Create the post's assignments; returns how many (0 if it was already dispatched)."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        conn = session.connection()
        if not _take(conn, post_id, now):
            return 0
        post = session.get_one(Post, post_id)
        campaign = session.get_one(Campaign, post.campaign_id)
        agency = session.get_one(Agency, campaign.agency_id)
        unit_ids = list(
            session.scalars(
                select(col(CampaignUnit.unit_id)).where(
                    col(CampaignUnit.campaign_id) == campaign.id
                )
            )
        )
        own = variants.load(session, post_id)
        counts: dict[str, int] = {}
        for platform in post.platform_list():
            texts = [
                (
                    position,
                    render(
                        post,
                        platform,
                        kind=campaign.kind,
                        disclosure_tag=disclosure_tag_for(agency),
                        tracking_url=TRACKING_PLACEHOLDER,
                        text=text,
                    ),
                )
                for position, text in platform_texts(post, platform, own)
            ]
            accounts = eligible_accounts(
                session, agency_id=agency.id or 0, unit_ids=unit_ids, platform=platform
            )
            rows = _rows(conn, post, campaign, platform, texts, accounts, now)
            _insert(conn, rows)
            counts[platform] = len(rows)
        for hook in after_assignments:
            hook(conn, post_id)
        total = sum(counts.values())
        webhooks.emit(
            conn,
            campaign.agency_id,
            EventType.POST_DISPATCHED,
            {
                "post_id": post_id,
                "campaign_id": campaign.id,
                "dispatched_at": now,
                "assignments": total,
                "assignments_per_platform": counts,
            },
        )
        audit.record(
            session,
            actor=None,
            action="post.dispatched",
            entity="post",
            entity_id=post_id,
            agency_id=agency.id,
            detail=json.dumps({"assignments": total, "platforms": counts}),
        )
    return total


def _take(conn: Connection, post_id: int, now: datetime) -> bool:
    """Flip APPROVED -> DISPATCHED; False if it was already dispatched.

    One conditional UPDATE: it row-locks on PostgreSQL and takes the write lock on
    SQLite, so a concurrent dispatcher waits and then finds the post dispatched.
    """
    flipped = conn.execute(
        update(_post)
        .where(_post.c.id == post_id, _post.c.status == PostStatus.APPROVED)
        .values(status=PostStatus.DISPATCHED, dispatched_at=now, updated_at=now)
    ).rowcount
    if flipped == 1:
        return True
    status = conn.scalar(select(_post.c.status).where(_post.c.id == post_id))
    if status is None:
        raise NotFoundError("Post not found.")
    if status == PostStatus.DISPATCHED:
        return False
    raise GaungError("Only an approved post can be dispatched.", status=status)


def _bound(conn: Connection, column: Column[Any], value: Any) -> Any:
    """The value as the driver wants it, converted once instead of once per row."""
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(value) if processor else value


def _rows(
    conn: Connection,
    post: Post,
    campaign: Campaign,
    platform: str,
    texts: Sequence[tuple[int, str]],
    accounts: Sequence[tuple[int, int, int]],
    now: datetime,
) -> list[tuple[Any, ...]]:
    """One tuple per account, in ASSIGNMENT_COLUMNS order, with a personal code and tracking URL.

    ``texts`` are the platform's approved renditions as (position, text); they go round
    robin over the accounts in eligibility order (by ASN id), so their counts differ by
    at most one and the same eligible ASN always gets the same text for the post.
    """
    prefix = f"{get_settings().base_url.rstrip('/')}/r/"
    deadline = _bound(conn, _table.c.deadline, campaign.deadline)
    created = _bound(conn, _table.c.created_at, now)
    status = str(AssignmentStatus.PENDING)
    post_id, campaign_id = post.id, campaign.id
    token = secrets.token_urlsafe
    rows = []
    count = len(texts)
    for n, (asn_id, unit_id, account_id) in enumerate(accounts):
        position, text = texts[n % count]
        code = token(CODE_BYTES)
        rows.append(
            (
                post_id,
                campaign_id,
                unit_id,
                asn_id,
                account_id,
                platform,
                code,
                fill_tracking_url(text, prefix + code),
                position,
                status,
                deadline,
                created,
            )
        )
    return rows


def _insert(conn: Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Bulk insert with the driver's executemany: no per-row SQLAlchemy processing."""
    rows = list(rows)
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    values = ", ".join([mark] * len(ASSIGNMENT_COLUMNS))
    # Only constant identifiers are interpolated; the data goes in as parameters.
    sql = f"INSERT INTO {_table.name} ({', '.join(ASSIGNMENT_COLUMNS)}) VALUES ({values})"  # noqa: S608
    conn.exec_driver_sql(sql, rows)


# Registers the outbox hook wherever dispatch runs (worker, `gaung demo`, the console);
