"""Metrics job: platform counts of verified reposts and official posts at 1 h, 24 h and 72 h.

Cost is per batch, not per person: one ``measure`` work item per post, window and 15-minute
slot measures every repost of the post that is due in that window, 100 ids per X call. The
items are queued when a repost is verified (``schedule_reposts``, called by scheduler.verify)
and when the post is dispatched (the official posts), under keys that make a second enqueue a
no-op, and the job itself only measures what has no snapshot for the window yet, so an extra
or repeated run costs no call.

Which counts exist where (see channels/*): X returns public metrics of any post (a plain
retweet has none of its own); Facebook and Instagram only of the agency's own posts, so ASN
reposts there stay "not returned". A post X says does not exist any more is recorded as
evidence ``gone`` (a verified repost is then flagged "deleted after verification").

Rate limits become ``RetryLater`` at the reset time; the calls already made are counted and
the snapshots already taken are kept (each batch commits on its own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from assignments import problems
from assignments.evidence import Check, Outcome, Reason, record
from assignments.metrics import (
    SPANS,
    Metrics,
    PostMetrics,
    Purpose,
    RepostMetrics,
    channel_calls,
    count_calls,
)
from assignments.models import Assignment, AssignmentStatus
from assignments.problems import ProblemKind
from channels.facebook import parse_permalink
from channels.platforms import (
    AuthError,
    ChannelError,
    NotConnected,
    PostGone,
    RateLimited,
    SocialPlatform,
    Unverifiable,
    get_platform,
)
from channels.x import parse_status_url
from content.models import Post
from gaung.db import utcnow
from gaung.errors import GaungError
from kernel import queue
from kernel.models import WorkItem

log = logging.getLogger(__name__)

SLOT = timedelta(minutes=15)  # reposts due within one slot share a work item (and API calls)
BATCH = 100  # ids per X tweets lookup
REPOST_METRICS = frozenset({"x"})  # platforms whose API returns counts of an ASN's own post
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

Platforms = Mapping[str, SocialPlatform]


@dataclass
class MeasureResult:
    api_calls: int = 0
    reposts: int = 0  # repost snapshots stored
    official: int = 0  # official-post snapshots stored
    gone: list[int] = field(default_factory=list)  # assignments seen deleted


def _slot_end(moment: datetime) -> datetime:
    """The end of the 15-minute slot ``moment`` falls in (itself when on a boundary)."""
    slots = -((_EPOCH - moment) // SLOT)  # ceiling division
    return _EPOCH + slots * SLOT


def measure_key(post_id: int, window: str, run_at: datetime) -> str:
    return f"measure:{post_id}:{window}:{run_at.isoformat(timespec='minutes')}"


def _missed(base: datetime, window: str, now: datetime) -> bool:
    """Too late for this window: a "1 h" figure taken at hour 5 would be mislabelled."""
    return now > base + 2 * SPANS[window]


def _run_at(due: datetime, now: datetime) -> datetime:
    return _slot_end(max(due, now))


def _enqueue(session: Session, post_id: int, window: str, run_at: datetime) -> WorkItem:
    return queue.enqueue(
        session,
        kind="measure",
        key=measure_key(post_id, window, run_at),
        payload={"post_id": post_id, "window": window},
        run_at=run_at,
    )


def _repost_time(assignment: Assignment) -> datetime:
    return assignment.reported_at or assignment.verified_at or utcnow()


def schedule_reposts(session: Session, assignments: Sequence[Assignment]) -> list[WorkItem]:
    """Queue the 1 h / 24 h / 72 h measurements of verified reposts (caller's transaction).

    Reposts of one post due in the same slot share one work item, so a search round that
    verifies thousands of reposts queues a handful of items.
    """
    now = utcnow()
    due: set[tuple[int, str, datetime]] = set()
    for a in assignments:
        if a.status != AssignmentStatus.VERIFIED or a.platform not in REPOST_METRICS:
            continue
        base = _repost_time(a)
        for window, span in SPANS.items():
            if a.repost_key and not _missed(base, window, now):
                due.add((a.post_id, window, _run_at(base + span, now)))
    return [_enqueue(session, post_id, window, at) for post_id, window, at in sorted(due)]


def schedule_official(session: Session, post: Post) -> list[WorkItem]:
    """Queue the measurements of the post's official posts after dispatch."""
    assert post.id is not None
    if not any(post.official_url(p) for p in post.platform_list()):
        return []
    now = utcnow()
    base = post.dispatched_at or now
    return [
        _enqueue(session, post.id, window, _run_at(base + span, now))
        for window, span in SPANS.items()
    ]


def on_dispatch(conn: Connection, post_id: int) -> None:
    """Dispatch hook: the official posts' measurements exist iff the dispatch does."""
    with Session(bind=conn) as session:
        post = session.get(Post, post_id)
        if post is not None:
            schedule_official(session, post)


def measure_job(engine: Engine, payload: dict[str, Any]) -> None:
    measure_post(engine, int(payload["post_id"]), str(payload["window"]))


def measure_post(
    engine: Engine, post_id: int, window: str, *, platforms: Platforms | None = None
) -> MeasureResult:
    """Take every due, not yet taken ``window`` snapshot of the post and its verified reposts."""
    if window not in SPANS:
        raise ValueError(f"unknown metrics window {window!r}")
    channels = _Channels(platforms)
    result = MeasureResult()
    with Session(engine, expire_on_commit=False) as session:
        post = session.get(Post, post_id)
        if post is None:
            return result
    try:
        _measure_official(engine, channels, post, window, result)
        _measure_reposts(engine, channels, post, window, result)
    except RateLimited as exc:
        raise queue.RetryLater(exc.reset_at, str(exc)) from exc
    return result


class _Channels:
    """Platforms built once per job run (tests pass their own)."""

    def __init__(self, given: Platforms | None) -> None:
        self.given = dict(given or {})

    def get(self, slug: str) -> SocialPlatform:
        if slug not in self.given:
            self.given[slug] = get_platform(slug)
        return self.given[slug]


# --- official posts -------------------------------------------------------------------------


def _measure_official(
    engine: Engine, channels: _Channels, post: Post, window: str, result: MeasureResult
) -> None:
    assert post.id is not None
    base = post.dispatched_at
    now = utcnow()
    if base is None or not _due(base, window, now):
        return
    with Session(engine) as session:
        done = set(
            session.exec(
                select(PostMetrics.platform).where(
                    PostMetrics.post_id == post.id, PostMetrics.window == window
                )
            )
        )
    for platform in post.platform_list():
        url = post.official_url(platform)
        if url and platform not in done:
            _official_snapshot(engine, channels, post, platform, url, window, result)


def _official_snapshot(
    engine: Engine,
    channels: _Channels,
    post: Post,
    platform: str,
    url: str,
    window: str,
    result: MeasureResult,
) -> None:
    assert post.id is not None
    channel = channels.get(platform)
    if not channel.connected():
        return
    before = channel_calls(channel)
    gone_before = set(getattr(channel, "gone", set()))
    try:
        platform_id = _official_id(channel, platform, url)
        counts = channel.metrics([platform_id]).get(platform_id)
    except (AuthError, Unverifiable, NotConnected, PostGone) as exc:
        # An operator must fix a token, or the platform cannot see the post: skip, never crash.
        log.warning("official %s post of post %s not measured: %s", platform, post.id, exc)
        kind = _PROBLEMS.get(type(exc))
        if kind is not None:
            _note(engine, post, platform, kind, exc.detail)
        return
    except GaungError as exc:
        if isinstance(exc, ChannelError):
            raise  # a rate limit (RetryLater) or network trouble (retried with backoff)
        log.warning("official %s link of post %s not measurable: %s", platform, post.id, exc)
        _note(engine, post, platform, ProblemKind.BAD_URL, exc.message)
        return
    finally:
        _bill(engine, post.campaign_id, platform, channel_calls(channel) - before, result)
    if platform_id in set(getattr(channel, "gone", set())) - gone_before:
        _note(engine, post, platform, ProblemKind.GONE, "not found")
        return
    row = {
        "post_id": post.id, "campaign_id": post.campaign_id, "platform": platform,
        "window": window, "platform_post_id": platform_id, "taken_at": utcnow(),
        **_count_values(counts),
    }  # fmt: skip
    with Session(engine) as session, session.begin():
        result.official += _insert_new(
            session, PostMetrics, [row], ["post_id", "platform", "window"]
        )
        problems.clear(session, post.id, platform, problems.CLEARED_BY_MEASURE)


_PROBLEMS: dict[type[Exception], ProblemKind] = {
    AuthError: ProblemKind.AUTH,
    PostGone: ProblemKind.GONE,
}


def _note(engine: Engine, post: Post, platform: str, kind: ProblemKind, detail: str) -> None:
    with Session(engine) as session, session.begin():
        problems.record(session, post, platform, kind, detail)


def _official_id(channel: SocialPlatform, platform: str, url: str) -> str:
    """The platform's id of the agency's own post, from the link Humas entered."""
    if platform == "x":
        return parse_status_url(url)[0]
    if platform == "facebook":
        target = parse_permalink(url)
        if target.owner and target.owner.isdigit():
            return f"{target.owner}_{target.post_id}"
    if platform == "instagram" and url.strip().isdigit():
        return url.strip()
    return channel.fetch_post(url).post_id  # resolves a Page name or a permalink (1-2 calls)


# --- reposts --------------------------------------------------------------------------------


def _measure_reposts(
    engine: Engine, channels: _Channels, post: Post, window: str, result: MeasureResult
) -> None:
    for platform in sorted(REPOST_METRICS & set(post.platform_list())):
        due = _due_reposts(engine, post, platform, window)
        if not due:
            continue
        channel = channels.get(platform)
        if not channel.connected():
            continue
        for start in range(0, len(due), BATCH):
            if not _repost_batch(engine, channel, post, window, due[start : start + BATCH], result):
                break


def _post_id_of(assignment: Assignment) -> str:
    return (assignment.repost_key or "").split(":", 1)[-1]


def _due_reposts(engine: Engine, post: Post, platform: str, window: str) -> list[Assignment]:
    """Verified reposts due for ``window`` now that have no snapshot for it yet."""
    taken = select(RepostMetrics.assignment_id).where(
        RepostMetrics.window == window, col(RepostMetrics.assignment_id) == col(Assignment.id)
    )
    query = (
        select(Assignment)
        .where(
            Assignment.post_id == post.id,
            Assignment.platform == platform,
            Assignment.status == AssignmentStatus.VERIFIED,
            col(Assignment.repost_key).is_not(None),
            ~taken.exists(),
        )
        .order_by(col(Assignment.id))
    )
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        rows = session.exec(query).all()
    return [a for a in rows if _due(_repost_time(a), window, now)]


def _due(base: datetime, window: str, now: datetime) -> bool:
    return base + SPANS[window] <= now and not _missed(base, window, now)


def _repost_batch(
    engine: Engine,
    channel: SocialPlatform,
    post: Post,
    window: str,
    batch: Sequence[Assignment],
    result: MeasureResult,
) -> bool:
    """Measure one batch and commit it; False when the platform refused (stop this platform)."""
    ids = {a.id: _post_id_of(a) for a in batch}
    before = channel_calls(channel)
    gone_before = set(getattr(channel, "gone", set()))
    try:
        counts = channel.metrics(list(ids.values()))
    except (AuthError, NotConnected, Unverifiable) as exc:
        log.warning("repost metrics of post %s skipped: %s", post.id, exc)
        return False
    finally:  # a rate limit or network trouble propagates: RetryLater, or backoff
        _bill(engine, post.campaign_id, channel.slug, channel_calls(channel) - before, result)
    gone = set(getattr(channel, "gone", set())) - gone_before
    with Session(engine, expire_on_commit=False) as session, session.begin():
        rows = [_repost_row(a, window, ids, counts) for a in batch]
        result.reposts += _insert_new(session, RepostMetrics, rows, ["assignment_id", "window"])
        for assignment in batch:
            if ids[assignment.id] in gone:
                _record_gone(session, assignment, ids[assignment.id])
                result.gone.append(assignment.id or 0)
    return True


def _repost_row(
    assignment: Assignment, window: str, ids: dict[int | None, str], counts: dict[str, Metrics]
) -> dict[str, Any]:
    platform_id = ids[assignment.id]
    # A post the platform did not return gets a row of Nones: "not returned", and not asked again.
    return {
        "assignment_id": assignment.id, "campaign_id": assignment.campaign_id,
        "platform": assignment.platform, "window": window, "platform_post_id": platform_id,
        "taken_at": utcnow(), **_count_values(counts.get(platform_id)),
    }  # fmt: skip


def _record_gone(session: Session, assignment: Assignment, platform_id: str) -> None:
    fresh = session.get(Assignment, assignment.id)
    if fresh is None or fresh.status != AssignmentStatus.VERIFIED or fresh.flagged_gone_at:
        return
    record(
        session, fresh, check=Check.X_LOOKUP, outcome=Outcome.GONE, reason=Reason.DELETED,
        post_id=platform_id, url=fresh.repost_url, detail="metrics lookup: not found",
    )  # fmt: skip


# --- shared ---------------------------------------------------------------------------------


def _count_values(metrics: Metrics | None) -> dict[str, int | None]:
    m = metrics or Metrics()
    return {
        "impressions": m.impressions,
        "likes": m.likes,
        "reposts": m.reposts,
        "replies": m.replies,
    }


def _insert_new(
    session: Session, model: type[Any], rows: list[dict[str, Any]], unique: list[str]
) -> int:
    """Insert rows, skipping ones another worker stored first; returns how many were new."""
    if not rows:
        return 0
    insert: Callable[..., Any] = (
        pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )
    table = model.__table__
    statement = insert(table).values(rows).on_conflict_do_nothing(index_elements=unique)
    # RETURNING, not rowcount: drivers do not all report rowcount for multi-row inserts.
    return len(session.connection().execute(statement.returning(table.c.id)).all())


def _bill(
    engine: Engine, campaign_id: int, platform: str, calls: int, result: MeasureResult
) -> None:
    """Count the calls a step made, whatever came of them (their own small transaction)."""
    if calls > 0:
        result.api_calls += calls
        with Session(engine) as session, session.begin():
            count_calls(
                session, campaign_id=campaign_id, platform=platform,
                purpose=Purpose.METRICS, calls=calls,
            )  # fmt: skip
