"""Evidence: what a verification check saw, and the assignment state it implies.

A repost counts as verified only when Gaung has seen it (an API search hit, a fetched link, an
oEmbed answer). Every check leaves one ``Evidence`` row, so an assignment can show which check
saw what, when, with the platform's post id and URL.

State rules applied by ``record``:

- ``verified``: pending, reported or rejected → VERIFIED (``verified_at`` set once).
- ``rejected``: only a REPORTED assignment → REJECTED with ``rejection_reason``; a pending
  one was never claimed, so there is nothing to reject.
- ``gone`` (the post was deleted): REPORTED → REJECTED with reason ``deleted``; a VERIFIED
  assignment stays VERIFIED and gets ``flagged_gone_at``, because the repost did happen and its
  potential reach was real when it was counted, but supervisors must see that it disappeared.
- ``unverifiable`` / ``error``: evidence only, the state is left alone.

Which reposts Gaung can check automatically at all (``automatically_verifiable``): X always;
Instagram unless a link check of a still reported repost found it ``unverifiable`` (a personal
account, the platform not connected); Facebook never. The dashboard's verification rate counts
only those; the rest are "reported, not verifiable".
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, exists, or_, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, Session, SQLModel, col

from assignments.models import Assignment, AssignmentStatus
from gaung.db import utcnow
from gaung.errors import N_
from kernel import queue
from kernel.models import WorkItem


class Check(StrEnum):
    X_SEARCH = "x_search"
    X_LOOKUP = "x_lookup"
    X_OEMBED = "x_oembed"
    FACEBOOK_GRAPH = "facebook_graph"
    INSTAGRAM_GRAPH = "instagram_graph"


class Outcome(StrEnum):
    VERIFIED = "verified"
    REJECTED = "rejected"
    GONE = "gone"
    UNVERIFIABLE = "unverifiable"
    ERROR = "error"


class Reason(StrEnum):
    WRONG_AUTHOR = "wrong_author"
    NOT_A_REPOST = "not_a_repost"
    DELETED = "deleted"
    NOT_CONNECTED = "not_connected"
    NOT_SUPPORTED = "not_supported"
    AUTH = "auth"
    NO_LINK_OR_HASHTAG = "no_link_or_hashtag"


# Labels for the inbox and the dashboard (translated where shown).
REASON_LABELS = {
    Reason.WRONG_AUTHOR: N_("Posted from another account"),
    Reason.NOT_A_REPOST: N_("Not a repost of the campaign post"),
    Reason.DELETED: N_("The repost was deleted"),
}

# Platforms whose reposts Gaung checks itself, and those it can check only for some accounts
# (those whose link check recorded no "unverifiable" evidence). Any other: never (Facebook).
ALWAYS_VERIFIABLE = ("x",)
VERIFIABLE_BY_ACCOUNT = ("instagram",)

_VERIFIABLE = {AssignmentStatus.PENDING, AssignmentStatus.REPORTED, AssignmentStatus.REJECTED}
MAX_DETAIL = 1000


class Evidence(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    check: str = Field(max_length=20)
    outcome: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=40)
    platform_post_id: str | None = Field(default=None, max_length=100)
    url: str | None = Field(default=None, max_length=500)
    detail: str = Field(default="", max_length=MAX_DETAIL)
    seen_at: datetime = Field(default_factory=utcnow)


class VerifyCursor(SQLModel, table=True):
    """Per official post and platform: where the repost search stopped and what it cost."""

    __tablename__ = "verify_cursor"
    post_id: int = Field(foreign_key="post.id", primary_key=True)
    platform: str = Field(max_length=20, primary_key=True)
    # Denormalised so API calls per campaign are one SUM without joins.
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    since_id: str | None = Field(default=None, max_length=40)
    api_calls: int = 0
    rounds: int = 0
    last_run_at: datetime | None = None


def record(
    session: Session,
    assignment: Assignment,
    *,
    check: str,
    outcome: str,
    reason: str | None = None,
    post_id: str | None = None,
    url: str | None = None,
    detail: str = "",
) -> Evidence:
    """Add one evidence row and move the assignment as the module docstring says. No commit."""
    assert assignment.id is not None
    now = utcnow()
    evidence = Evidence(
        assignment_id=assignment.id,
        check=check,
        outcome=outcome,
        reason=reason,
        platform_post_id=post_id,
        url=url[:500] if url else None,
        detail=detail[:MAX_DETAIL],
        seen_at=now,
    )
    session.add(evidence)
    _apply(assignment, outcome, reason, now)
    session.add(assignment)
    return evidence


def _apply(assignment: Assignment, outcome: str, reason: str | None, now: datetime) -> None:
    status = assignment.status
    if outcome == Outcome.VERIFIED and status in _VERIFIABLE:
        assignment.status = AssignmentStatus.VERIFIED
        assignment.verified_at = assignment.verified_at or now
        assignment.rejection_reason = None
        assignment.flagged_gone_at = None
    elif outcome == Outcome.GONE and status == AssignmentStatus.VERIFIED:
        assignment.flagged_gone_at = assignment.flagged_gone_at or now
    elif outcome in (Outcome.REJECTED, Outcome.GONE) and status == AssignmentStatus.REPORTED:
        assignment.status = AssignmentStatus.REJECTED
        fallback = Reason.DELETED if outcome == Outcome.GONE else None
        assignment.rejection_reason = reason or fallback


def link_check_key(assignment: Assignment) -> str:
    """One check per reported link: reporting a different link queues a new check."""
    return f"verify:link:{assignment.id}:{assignment.repost_key}"


def enqueue_link_check(
    session: Session, assignment: Assignment, run_at: datetime | None = None
) -> WorkItem:
    """Queue ``verify_link`` for the assignment's reported link, in the caller's transaction."""
    assert assignment.id is not None
    return queue.enqueue(
        session,
        kind="verify_link",
        key=link_check_key(assignment),
        payload={"assignment_id": assignment.id},
        run_at=run_at or utcnow(),
    )


def forget_search(session: Session, post_id: int, platforms: list[str]) -> None:
    """The official post changed: the next repost search starts afresh on the new one.

    ``since_id`` belongs to the old post's search; kept, it would skip reposts of the new
    post made before it. The API calls spent stay counted.
    """
    session.execute(
        update(VerifyCursor)
        .where(col(VerifyCursor.post_id) == post_id, col(VerifyCursor.platform).in_(platforms))
        .values(since_id=None),
        execution_options={"synchronize_session": False},
    )


def automatically_verifiable() -> ColumnElement[bool]:
    """Whether Gaung can check an assignment's repost itself (see the module docstring).

    A SQL condition on ``assignment`` rows. Per account platforms: a report is out once a link
    check found it ``unverifiable``, unless it has a verdict since (verified or rejected: then
    it could be checked after all).
    """
    platform = col(Assignment.platform)
    seen_unverifiable = exists().where(
        col(Evidence.assignment_id) == col(Assignment.id),
        col(Evidence.outcome) == Outcome.UNVERIFIABLE,
    )
    return or_(
        platform.in_(ALWAYS_VERIFIABLE),
        and_(
            platform.in_(VERIFIABLE_BY_ACCOUNT),
            or_(col(Assignment.status) != AssignmentStatus.REPORTED, ~seen_unverifiable),
        ),
    )
