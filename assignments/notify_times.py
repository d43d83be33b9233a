"""Measured time to notify: how long a post took to reach its ASN, from the outbox.

The clock starts when the post was approved, or when it was dispatched if it waited for
a scheduled time (a routine post approved on Monday for Friday is not "slow"). A message
counts as notified when its provider accepted it (``outbox_message.sent_at``, status
``sent``). Per post and per messenger:

- time to the last accepted message (so far, while some still wait);
- time until 50% and 90% of the post's messages were accepted (None: not reached);
- messages failed and those whose outcome is unknown (the worker died mid-send; never
  resent blindly), counted apart and never as notified.

A message Humas resent (``resent``) is represented by its copy (same assignment, key
``resend:<id>``); cancelled ones (withdrawn post) are counted apart. Percentiles are the
k-th acceptance time in SQL (``ORDER BY sent_at LIMIT 1 OFFSET k-1``), so a post of a
million messages is never loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from assignments.models import Assignment
from content.models import Post
from kernel.outbox import OutboxKind, OutboxMessage, OutboxStatus

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_assignment = Assignment.__table__  # type: ignore[attr-defined]
QUANTILES = (0.5, 0.9)
WAITING = (OutboxStatus.QUEUED, OutboxStatus.SENDING)


@dataclass(frozen=True)
class MessengerTimes:
    messenger: str
    messages: int
    accepted: int
    failed: int
    unknown: int
    waiting: int
    last_seconds: float | None  # start -> last accepted message of this messenger


@dataclass(frozen=True)
class NotifyTimes:
    post_id: int
    started_at: datetime | None  # approval, or dispatch for a scheduled post
    messages: int = 0  # every notice of the post (a resent one once, cancelled ones not)
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    waiting: int = 0
    cancelled: int = 0
    last_seconds: float | None = None
    # quantile (0.5, 0.9) -> seconds from start until that share was accepted; None: not yet
    quantiles: dict[float, float | None] = field(default_factory=dict)
    messengers: list[MessengerTimes] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Nothing left to try: every message was accepted, failed or is unknown."""
        return self.waiting == 0

    @property
    def p50(self) -> float | None:
        return self.quantiles.get(0.5)

    @property
    def p90(self) -> float | None:
        return self.quantiles.get(0.9)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def started_at(post: Post) -> datetime | None:
    """Approval, or the dispatch of a post that waited for its scheduled time."""
    waited = post.scheduled_at is not None and not post.urgent
    if waited or post.reviewed_at is None:
        return _aware(post.dispatched_at or post.reviewed_at)
    return _aware(post.reviewed_at)


def _since(start: datetime | None, moment: datetime | None) -> float | None:
    moment = _aware(moment)
    if start is None or moment is None:
        return None
    return max(0.0, (moment - start).total_seconds())


def notify_times(conn: Connection, post: Post) -> NotifyTimes:
    """The post's measured times (see the module doc): three queries whatever its size."""
    assert post.id is not None
    start = started_at(post)
    of_post = (
        _outbox.c.campaign_id == post.campaign_id,
        _outbox.c.kind == str(OutboxKind.ASSIGNMENT),
        _outbox.c.assignment_id.in_(
            select(_assignment.c.id).where(_assignment.c.post_id == post.id)
        ),
    )
    status = _outbox.c.status

    def counted(*statuses: str) -> Any:
        return func.sum(case((status.in_([str(s) for s in statuses]), 1), else_=0))

    rows = conn.execute(
        select(
            _outbox.c.messenger,
            counted(*OutboxStatus),
            counted(OutboxStatus.SENT),
            counted(OutboxStatus.FAILED),
            counted(OutboxStatus.UNKNOWN),
            counted(*WAITING),
            counted(OutboxStatus.CANCELLED),
            counted(OutboxStatus.RESENT),
            func.max(case((status == str(OutboxStatus.SENT), _outbox.c.sent_at))),
        )
        .where(*of_post)
        .group_by(_outbox.c.messenger)
    ).all()
    messengers = []
    cancelled = 0
    for row in rows:
        all_, sent, failed, unknown, waiting, gone, resent = (int(v or 0) for v in row[1:8])
        cancelled += gone
        messages = all_ - gone - resent
        if messages <= 0:
            continue
        messengers.append(
            MessengerTimes(
                messenger=row[0],
                messages=messages,
                accepted=sent,
                failed=failed,
                unknown=unknown,
                waiting=waiting,
                last_seconds=_since(start, row[8]) if sent else None,
            )
        )
    messengers.sort(key=lambda m: (-m.messages, m.messenger))
    total = sum(m.messages for m in messengers)
    accepted = sum(m.accepted for m in messengers)
    quantiles: dict[float, float | None] = {}
    for q in QUANTILES:
        needed = max(1, math.ceil(q * total))
        if total == 0 or accepted < needed:
            quantiles[q] = None
            continue
        moment = conn.scalar(
            select(_outbox.c.sent_at)
            .where(*of_post, status == str(OutboxStatus.SENT), _outbox.c.sent_at.is_not(None))
            .order_by(_outbox.c.sent_at)
            .offset(needed - 1)
            .limit(1)
        )
        quantiles[q] = _since(start, moment)
    lasts = [m.last_seconds for m in messengers if m.last_seconds is not None]
    return NotifyTimes(
        post_id=post.id,
        started_at=start,
        messages=total,
        accepted=accepted,
        failed=sum(m.failed for m in messengers),
        unknown=sum(m.unknown for m in messengers),
        waiting=sum(m.waiting for m in messengers),
        cancelled=cancelled,
        last_seconds=max(lasts) if lasts else None,
        quantiles=quantiles,
        messengers=messengers,
    )
