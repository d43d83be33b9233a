"""Verification jobs: one paged repost search per official post, and a check per reported link.

``verify_post`` costs per official post, not per ASN: one X recent search (paged, resumed with
``since_id``) finds every repost and quote, and the authors are matched against the enrolled X
user ids of the post's assignments. It runs again every ``VERIFY_INTERVAL`` until the campaign
deadline, each round under its own work-item key.

``verify_link`` fetches one reported link and judges it (author, reference, link or hashtag).

Neither job sleeps: a rate limit becomes ``RetryLater`` at the reset time the API returned.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from assignments import problems
from assignments.evidence import Check, Evidence, Outcome, Reason, VerifyCursor, record
from assignments.metrics import channel_calls
from assignments.models import Assignment, AssignmentStatus
from assignments.problems import ProblemKind
from assignments.reporting import parse_repost_url
from channels.platforms import (
    AuthError,
    ChannelError,
    NotConnected,
    PostGone,
    PostRef,
    RateLimited,
    SocialPlatform,
    Unverifiable,
    get_platform,
)
from content.models import Campaign, Post
from gaung.db import utcnow
from gaung.errors import GaungError
from gaung.fields import handle_key
from gaung.settings import get_settings
from kernel import queue, webhooks
from kernel.models import WorkItem
from kernel.webhooks import EventType
from roster.models import SocialAccount
from scheduler import measure

log = logging.getLogger(__name__)

SEARCH_PLATFORM = "x"  # the only platform whose API lists who reposted a post
VERIFY_INTERVAL = timedelta(minutes=30)
_LINK_CHECKABLE = {AssignmentStatus.REPORTED, AssignmentStatus.VERIFIED}
_GRAPH_CHECKS = {"facebook": Check.FACEBOOK_GRAPH, "instagram": Check.INSTAGRAM_GRAPH}


@dataclass(frozen=True)
class SearchRound:
    api_calls: int
    matches: int  # reposts by enrolled accounts seen this round
    verified: int  # assignments that became VERIFIED this round


def post_round_key(post_id: int, round_no: int) -> str:
    return f"verify:post:{post_id}:{round_no}"


def schedule_post_round(
    session: Session, post_id: int, round_no: int = 0, run_at: datetime | None = None
) -> WorkItem:
    """Queue one search round of the post (once per round), in the caller's transaction."""
    return queue.enqueue(
        session,
        kind="verify_post",
        key=post_round_key(post_id, round_no),
        payload={"post_id": post_id, "round": round_no},
        run_at=run_at or utcnow(),
    )


def on_dispatch(conn: Connection, post_id: int) -> None:
    """Dispatch hook: the first search round exists iff the X assignments do.

    It runs one interval after dispatch: searching at once would bill a call that can only
    find nothing, since no ASN has had the assignment in hand yet.
    """
    with Session(bind=conn) as session:
        post = session.get(Post, post_id)
        if post is not None and SEARCH_PLATFORM in post.platform_list():
            schedule_post_round(session, post_id, 0, utcnow() + VERIFY_INTERVAL)


def verify_post_job(engine: Engine, payload: dict[str, Any]) -> None:
    verify_post(engine, int(payload["post_id"]), int(payload.get("round", 0)))


def verify_post_gave_up(engine: Engine, payload: dict[str, Any], error: str, attempts: int) -> None:
    """Every attempt of a round failed: say so where Humas looks, and keep the next round."""
    post_id, round_no = int(payload["post_id"]), int(payload.get("round", 0))
    with Session(engine) as session, session.begin():
        post = session.get(Post, post_id)
        if post is None:
            return
        problems.record(
            session, post, SEARCH_PLATFORM, ProblemKind.EXHAUSTED, error, attempts=attempts
        )
        campaign = session.get_one(Campaign, post.campaign_id)
        _schedule_next(session, post_id, campaign.deadline, round_no)


def verify_link_job(engine: Engine, payload: dict[str, Any]) -> None:
    verify_link(engine, int(payload["assignment_id"]))


def verify_post(
    engine: Engine, post_id: int, round_no: int = 0, *, platform: SocialPlatform | None = None
) -> SearchRound:
    """Run one search round for the post's official X post and queue the next round."""
    channel = platform or get_platform(SEARCH_PLATFORM)
    calls_before = _calls(channel)
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            post = session.get(Post, post_id)
            if post is None:
                return SearchRound(0, 0, 0)
            campaign = session.get_one(Campaign, post.campaign_id)
            result = SearchRound(0, 0, 0)
            if post.official_url_x and channel.connected():
                result = _search_round(session, channel, post)
            _schedule_next(session, post_id, campaign.deadline, round_no)
            return result
    except RateLimited as exc:
        # The round rolled back; keep the bill honest, then resume at the reset time.
        _add_calls(engine, post_id, _calls(channel) - calls_before)
        raise queue.RetryLater(exc.reset_at, str(exc)) from exc


def _calls(channel: SocialPlatform) -> int:
    return channel_calls(channel)  # X counts itself; Facebook/Instagram count in their client


def _search_round(session: Session, channel: SocialPlatform, post: Post) -> SearchRound:
    assert post.id is not None
    assert post.official_url_x is not None
    cursor = _cursor(session, post.id, post.campaign_id, SEARCH_PLATFORM)
    try:
        found, newest, calls = channel.find_reposts(post.official_url_x, cursor.since_id)
    except AuthError as exc:
        # An operator must fix the token; later rounds try again, nothing crashes.
        log.warning("repost search for post %s skipped: %s", post.id, exc)
        problems.record(session, post, SEARCH_PLATFORM, ProblemKind.AUTH, exc.detail)
        return SearchRound(_calls(channel), 0, 0)
    except GaungError as exc:
        if isinstance(exc, ChannelError):
            raise  # network trouble: the queue retries with backoff
        # A link that is no X post (saved before links were checked): retrying cannot help.
        log.warning("repost search for post %s skipped: %s", post.id, exc)
        problems.record(session, post, SEARCH_PLATFORM, ProblemKind.BAD_URL, exc.message)
        return SearchRound(0, 0, 0)
    problems.clear(session, post.id, SEARCH_PLATFORM, problems.CLEARED_BY_SEARCH)
    enrolled = _enrolled_x_assignments(session, post.id)
    matches = verified = 0
    seen: list[Assignment] = []
    for match in found:
        entry = enrolled.pop(match.post.author_id or "", None)  # one repost per author counts
        if entry is None:
            continue  # not an enrolled account of this post: ignored, never stored
        assignment, followers = entry
        matches += 1
        if assignment.status == AssignmentStatus.VERIFIED:
            continue
        _fill_report(assignment, match.post, followers)
        record(
            session,
            assignment,
            check=Check.X_SEARCH,
            outcome=Outcome.VERIFIED,
            post_id=match.post.post_id,
            url=match.post.url,
            detail=match.kind,
        )
        verified += assignment.status == AssignmentStatus.VERIFIED
        seen.append(assignment)
    measure.schedule_reposts(session, seen)  # metrics at 1 h, 24 h and 72 h
    newly = [a for a in seen if a.status == AssignmentStatus.VERIFIED]
    _emit_verified(session, post.campaign_id, newly, Check.X_SEARCH)
    cursor.since_id = newest or cursor.since_id
    cursor.api_calls += calls
    cursor.rounds += 1
    cursor.last_run_at = utcnow()
    session.add(cursor)
    return SearchRound(calls, matches, verified)


def _emit_verified(
    session: Session, campaign_id: int, assignments: list[Assignment], check: str
) -> None:
    """One ``assignment.verified`` webhook event per assignment that just became verified."""
    if not assignments:
        return
    campaign = session.get_one(Campaign, campaign_id)
    webhooks.emit_many(
        session,
        campaign.agency_id,
        EventType.ASSIGNMENT_VERIFIED,
        [
            {
                "assignment_id": a.id,
                "post_id": a.post_id,
                "campaign_id": a.campaign_id,
                "unit_id": a.unit_id,
                "asn_id": a.asn_id,
                "platform": a.platform,
                "repost_url": a.repost_url,
                "verified_at": a.verified_at,
                "check": check,
                "followers_at_report": a.followers_at_report,
            }
            for a in assignments
        ],
    )


def _cursor(session: Session, post_id: int, campaign_id: int, platform: str) -> VerifyCursor:
    cursor = session.get(VerifyCursor, (post_id, platform))
    return cursor or VerifyCursor(post_id=post_id, platform=platform, campaign_id=campaign_id)


def _add_calls(engine: Engine, post_id: int, calls: int) -> None:
    if calls <= 0:
        return
    with Session(engine) as session, session.begin():
        post = session.get(Post, post_id)
        if post is None or post.id is None:
            return
        cursor = _cursor(session, post.id, post.campaign_id, SEARCH_PLATFORM)
        cursor.api_calls += calls
        session.add(cursor)


def _enrolled_x_assignments(session: Session, post_id: int) -> dict[str, tuple[Assignment, int]]:
    """X user id → (assignment, current followers) for the post's X assignments."""
    query = (
        select(Assignment, SocialAccount.platform_user_id, SocialAccount.followers)
        .join(SocialAccount, col(Assignment.account_id) == col(SocialAccount.id))
        .where(Assignment.post_id == post_id, Assignment.platform == SEARCH_PLATFORM)
    )
    rows = session.exec(query)
    return {
        user_id: (assignment, followers)
        for assignment, user_id, followers in rows
        if user_id is not None  # not verified yet: nothing to match against
    }


def _fill_report(assignment: Assignment, seen: PostRef, followers: int) -> None:
    """The ASN reposted but never reported: the search hit stands in for their report."""
    if assignment.repost_key is not None:
        return
    assignment.repost_url = seen.url
    assignment.repost_key = f"{SEARCH_PLATFORM}:{seen.post_id}"
    assignment.reported_at = seen.created_at or utcnow()
    assignment.followers_at_report = followers


def _schedule_next(session: Session, post_id: int, deadline: datetime, round_no: int) -> None:
    """Next round after VERIFY_INTERVAL, the last one at the deadline, none after it."""
    now = utcnow()
    if now >= deadline:
        return
    schedule_post_round(session, post_id, round_no + 1, min(now + VERIFY_INTERVAL, deadline))


def verify_link(
    engine: Engine, assignment_id: int, *, platform: SocialPlatform | None = None
) -> Evidence | None:
    """Check the assignment's reported link and record what was seen (None: nothing to check)."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        assignment = session.get(Assignment, assignment_id)
        if assignment is None or not assignment.repost_url:
            return None
        if assignment.status not in _LINK_CHECKABLE:
            return None  # declined, expired or already rejected: the verdict stands
        channel = platform or get_platform(assignment.platform)
        calls_before = _calls(channel)
        was = assignment.status
        evidence = _check_link(session, channel, assignment)
        _count_link_calls(session, assignment, _calls(channel) - calls_before)
        if assignment.status == AssignmentStatus.VERIFIED:
            measure.schedule_reposts(session, [assignment])  # a no-op when already queued
            if was != AssignmentStatus.VERIFIED:
                _emit_verified(session, assignment.campaign_id, [assignment], evidence.check)
        return evidence


def _check_link(session: Session, channel: SocialPlatform, assignment: Assignment) -> Evidence:
    assert assignment.repost_url is not None
    check = _GRAPH_CHECKS.get(assignment.platform, Check.X_LOOKUP)
    url = assignment.repost_url
    account = session.get(SocialAccount, assignment.account_id) if assignment.account_id else None
    try:
        # The enrolled handle: Instagram finds a permalink only among that account's media.
        seen = channel.fetch_post(url, author_handle=account.handle if account else None)
    except RateLimited as exc:
        raise queue.RetryLater(exc.reset_at, str(exc)) from exc
    except PostGone as exc:
        return record(
            session, assignment, check=check, outcome=Outcome.GONE, reason=Reason.DELETED,
            url=url, detail=exc.detail,
        )  # fmt: skip
    except (NotConnected, Unverifiable) as exc:
        reason = Reason.NOT_CONNECTED if isinstance(exc, NotConnected) else Reason.NOT_SUPPORTED
        return record(
            session, assignment, check=check, outcome=Outcome.UNVERIFIABLE, reason=reason,
            url=url, detail=exc.detail,
        )  # fmt: skip
    except AuthError as exc:
        return record(
            session, assignment, check=check, outcome=Outcome.ERROR, reason=Reason.AUTH,
            url=url, detail=exc.detail,
        )  # fmt: skip
    except ChannelError:
        raise  # network trouble: the queue retries with backoff
    except GaungError as exc:  # a stored link the channel cannot parse
        return record(
            session, assignment, check=check, outcome=Outcome.ERROR, url=url, detail=exc.message
        )
    return _judge(session, assignment, seen, check)


def _judge(session: Session, assignment: Assignment, seen: PostRef, check: str) -> Evidence:
    account = session.get(SocialAccount, assignment.account_id) if assignment.account_id else None
    post = session.get_one(Post, assignment.post_id)
    keyless = seen.author_id is None  # X oEmbed: author handle and text only
    if keyless:
        check = Check.X_OEMBED if assignment.platform == SEARCH_PLATFORM else check
    same_author = account is not None and _same_author(seen, account)
    mentions = _mentions_campaign(seen.text, assignment, post)
    outcome, reason = _verdict(
        keyless, same_author, mentions, _official_id(post, assignment.platform), seen
    )
    return record(
        session, assignment, check=check, outcome=outcome, reason=reason,
        post_id=None if keyless else seen.post_id, url=seen.url,
    )  # fmt: skip


def _verdict(
    keyless: bool, same_author: bool, mentions: bool, official_id: str | None, seen: PostRef
) -> tuple[Outcome, Reason | None]:
    if keyless:
        # oEmbed names a handle, which a rename can make stale: never reject on it alone.
        if same_author and mentions:
            return Outcome.VERIFIED, None
        reason = Reason.NO_LINK_OR_HASHTAG if same_author else Reason.WRONG_AUTHOR
        return Outcome.UNVERIFIABLE, reason
    if not same_author:
        return Outcome.REJECTED, Reason.WRONG_AUTHOR
    if (official_id and official_id in seen.referenced_post_ids) or mentions:
        return Outcome.VERIFIED, None
    return Outcome.REJECTED, Reason.NOT_A_REPOST


def _same_author(seen: PostRef, account: SocialAccount) -> bool:
    if seen.author_id is not None:
        return seen.author_id == account.platform_user_id
    if not seen.author_handle:
        return False
    return handle_key(seen.author_handle) == handle_key(account.handle)


def tracking_path(assignment: Assignment) -> str:
    return f"/r/{assignment.code}"


def _mentions_campaign(text: str, assignment: Assignment, post: Post) -> bool:
    """The personal tracking link or one of the campaign hashtags is in the text."""
    base = get_settings().base_url.rstrip("/")
    if f"{base}{tracking_path(assignment)}" in text or tracking_path(assignment) in text:
        return True
    return any(
        re.search(rf"#{re.escape(tag)}(?!\w)", text, re.IGNORECASE) for tag in post.hashtag_list()
    )


def _official_id(post: Post, platform: str) -> str | None:
    url = post.official_url(platform)
    if not url:
        return None
    try:
        return parse_repost_url(platform, url).post_id
    except GaungError:
        return None


def _count_link_calls(session: Session, assignment: Assignment, calls: int) -> None:
    """Link checks are billed too: add them to the post's cursor for that platform."""
    if calls <= 0:
        return
    cursor = _cursor(session, assignment.post_id, assignment.campaign_id, assignment.platform)
    cursor.api_calls += calls
    session.add(cursor)
