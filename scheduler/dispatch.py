"""Dispatch: turn one approved post into personal repost assignments, streamed in chunks.

A post's dispatch is split into parts (assignments.models.DispatchPart), one per post and
agency. Each part is its own work item (job ``dispatch_part``), and a cross-agency campaign
is one post per agency (each network member's copy, content.offers), so different workers
create different agencies' assignments in parallel.

1. ``start`` (job ``dispatch``): with the post row locked, create the parts (idempotent) and
   count their eligible accounts (progress total); the post stays APPROVED.
2. ``run_part``: one transaction per chunk of CHUNK eligible accounts, read by keyset (ASN
   id) after the part's cursor; the rows go in by COPY on PostgreSQL and executemany on
   SQLite, and the cursor moves in the same transaction. A crash loses at most the chunk in
   flight, and a rerun continues after the last committed one. Every chunk first takes the
   post row (FOR SHARE on PostgreSQL, so parts run side by side but a withdrawal waits) and
   then the part row, so two workers on the same part take turns and never read the same
   cursor; the unique (post_id, asn_id, platform) stays the last line of defence.
3. ``finish``: when no part is left running, one conditional UPDATE flips the post APPROVED
   -> DISPATCHED and, in that transaction, the ``after_assignments`` hooks (outbox notices,
   reminders, verification, ...) run once for the whole post, set-based in SQL; the webhook
   and the audit entry follow. Until then the post's assignments are hidden from the ASN
   (assignments.reporting) and no message exists, so a half-dispatched post is never shown
   or announced. The outbox notices stay post-level on purpose: one per ASN per post (key
   ``post:{id}:asn:{asn}``) listing all their platforms, written by INSERT ... SELECT, so
   the process holds no rows in memory and a retry can write no duplicate.

A withdrawal while parts run (content.workflow.withdraw -> ``abandon``) cancels the parts and
marks the assignments already made WITHDRAWN; a running chunk sees the post no longer
APPROVED and stops.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, exists, func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from assignments.models import Assignment, AssignmentStatus, DispatchPart, DispatchPartStatus
from content import variants
from content.models import Campaign, CampaignUnit, Post, PostStatus
from content.rendering import (
    platform_texts,
)
from gaung.db import utcnow
from gaung.errors import GaungError, NotFoundError
from kernel import audit, queue, webhooks
from kernel.webhooks import EventType
from roster.eligibility import count_eligible, eligible_accounts

log = logging.getLogger(__name__)

# Hooks run in the transaction that marks the post DISPATCHED, once per post, with
# (connection, post_id): e.g. messenger outbox rows that must exist iff the post is dispatched.
after_assignments: list[Callable[[Connection, int], None]] = []

CHUNK = 10_000  # eligible accounts per chunk transaction: bounds memory whatever the size
PART_JOB = "dispatch_part"
CODE_BYTES = 9  # secrets.token_urlsafe(9): 12 URL-safe characters, 72 random bits
ASSIGNMENT_COLUMNS = (
    "post_id",
    "campaign_id",
    "unit_id",
    "asn_id",
    "account_id",
    "platform",
    "code",
    "variant",
    "status",
    "deadline",
    "created_at",
)
_table = Assignment.__table__  # type: ignore[attr-defined]
_post = Post.__table__  # type: ignore[attr-defined]
_part = DispatchPart.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Progress:
    """A post's dispatch progress over its parts (done/total assignments)."""

    parts: int
    parts_done: int
    done: int
    total: int
    cancelled: bool


def dispatch_job(engine: Engine, payload: dict[str, Any]) -> None:
    """Job ``dispatch``: create the post's parts and queue one ``dispatch_part`` job each."""
    post_id = int(payload["post_id"])
    try:
        parts = start(engine, post_id, queue_parts=True)
    except GaungError as exc:
        # Withdrawn or deleted since it was queued: nothing to send, and retrying won't help.
        log.warning("dispatch of post %s skipped: %s", post_id, exc)
        return
    if not parts:  # nothing left to run (already dispatched, or only the finish was missing)
        finish(engine, post_id)


def dispatch_part_job(engine: Engine, payload: dict[str, Any]) -> None:
    """Job ``dispatch_part``: create one part's assignments, then finish the post if it was
    the last part. An exception leaves the committed chunks; the retry resumes after them."""
    part_id = int(payload["part_id"])
    run_part(engine, part_id)
    post_id = int(payload["post_id"])
    total = finish(engine, post_id)
    if total:
        log.info("post %s dispatched: %s assignments", post_id, total)


def dispatch_post(engine: Engine, post_id: int, *, chunk: int | None = None) -> int:
    """Dispatch the whole post in this process (console, demo, CLI, tests): start, every
    part in turn, finish. Returns how many assignments the post has if this call marked it
    dispatched, 0 if it already was. Raises GaungError if the post is not approved."""
    for part_id in start(engine, post_id):
        run_part(engine, part_id, chunk=chunk)
    return finish(engine, post_id)


def start(
    engine: Engine,
    post_id: int,
    *,
    queue_parts: bool = False,
) -> list[int]:
    """Create the post's part (once) and return the ids of those not done yet; [] if the
    post is already dispatched. ``queue_parts``: also queue a ``dispatch_part`` job each."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        conn = session.connection()
        status = _lock_post(conn, post_id, share=False)
        if status == PostStatus.DISPATCHED:
            return []
        if status != PostStatus.APPROVED:
            raise GaungError("Only an approved post can be dispatched.", status=status)
        post = session.get_one(Post, post_id)
        campaign = session.get_one(Campaign, post.campaign_id)
        existing = session.scalars(
            select(DispatchPart).where(col(DispatchPart.post_id) == post_id)
        ).all()
        if not existing:
            existing = [
                DispatchPart(
                    post_id=post_id,
                    agency_id=agency_id,
                    total=sum(
                        count_eligible(
                            session,
                            agency_id=agency_id,
                            unit_ids=_part_units(session, campaign, agency_id, ""),
                            platform=platform,
                        )
                        for platform in post.platform_list()
                    ),
                )
                for agency_id in [campaign.agency_id]
            ]
            session.add_all(existing)
            session.flush()
        open_parts = [
            p.id for p in existing if p.id is not None and p.status == DispatchPartStatus.RUNNING
        ]
        if queue_parts:
            for part_id in open_parts:
                queue.enqueue(
                    session,
                    kind=PART_JOB,
                    key=f"dispatch_part:{part_id}",
                    payload={"post_id": post_id, "part_id": part_id},
                    run_at=now,
                )
    return open_parts


def run_part(
    engine: Engine,
    part_id: int,
    *,
    chunk: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Create a part's assignments chunk by chunk; returns how many this call created.
    ``on_chunk`` is told how many each committed chunk made (the CLI's progress bar)."""
    size = chunk or CHUNK
    created = 0
    texts: dict[str, list[int]] = {}
    while True:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            conn = session.connection()
            step = _chunk(session, conn, part_id, size, texts)
        if step is None:
            return created
        created += step
        if on_chunk is not None:
            on_chunk(step)


def _chunk(
    session: Session,
    conn: Connection,
    part_id: int,
    size: int,
    texts: dict[str, list[int]],
) -> int | None:
    """One chunk in the caller's transaction: how many rows it made, None when the part is over."""
    post_id = conn.scalar(select(_part.c.post_id).where(_part.c.id == part_id))
    if post_id is None:
        raise NotFoundError("Dispatch part not found.")
    pg = conn.dialect.name == "postgresql"
    status = ""
    if pg:  # post first (shared: parts run side by side, a withdrawal waits), then the part
        status = _lock_post(conn, post_id, share=True)
    now = utcnow()
    taken = conn.execute(
        update(_part)
        .where(_part.c.id == part_id, _part.c.status == DispatchPartStatus.RUNNING)
        .values(updated_at=now)
    ).rowcount
    if not pg:  # SQLite: the UPDATE above took the write lock; read the post under it
        status = str(conn.scalar(select(_post.c.status).where(_post.c.id == post_id)))
    if taken != 1:
        return None
    if status != PostStatus.APPROVED:
        conn.execute(
            update(_part)
            .where(_part.c.id == part_id)
            .values(status=DispatchPartStatus.CANCELLED, finished_at=now)
        )
        return None
    part = session.get_one(DispatchPart, part_id, populate_existing=True)
    post = session.get_one(Post, post_id)
    platforms = post.platform_list()
    if part.platform_index >= len(platforms):
        _close(conn, part_id, now)
        return None
    platform = platforms[part.platform_index]
    campaign = session.get_one(Campaign, post.campaign_id)
    if platform not in texts:
        own = variants.load(session, post.id)
        texts[platform] = [position for position, _ in platform_texts(post, platform, own)]
    unit_ids = _part_units(session, campaign, part.agency_id, part.unit_filter)
    accounts = eligible_accounts(
        session,
        agency_id=part.agency_id,
        unit_ids=unit_ids,
        platform=platform,
        after=part.after_asn_id,
        limit=size,
    )
    if pg:
        _copy(conn, post, campaign, platform, texts[platform], accounts, now, part.platform_done)
    else:
        rows = _rows(
            conn, post, campaign, platform, texts[platform], accounts, now, start=part.platform_done
        )
        _insert(conn, rows)
    values: dict[str, Any] = {
        "done": _part.c.done + len(accounts),
        "chunks": _part.c.chunks + 1,
    }
    if len(accounts) < size:  # the platform is complete: on to the next one
        values |= {"platform_index": part.platform_index + 1, "after_asn_id": 0, "platform_done": 0}
        if part.platform_index + 1 >= len(platforms):
            values |= {"status": DispatchPartStatus.DONE, "finished_at": now}
    else:
        values |= {
            "after_asn_id": accounts[-1][0],
            "platform_done": part.platform_done + len(accounts),
        }
    conn.execute(update(_part).where(_part.c.id == part_id).values(**values))
    return len(accounts)


def _close(conn: Connection, part_id: int, now: datetime) -> None:
    conn.execute(
        update(_part)
        .where(_part.c.id == part_id)
        .values(status=DispatchPartStatus.DONE, finished_at=now)
    )


def finish(engine: Engine, post_id: int) -> int:
    """Mark the post DISPATCHED once none of its parts runs, and run the post-level hooks in
    that transaction; returns its assignment count, 0 if it is not (or already) finished."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        conn = session.connection()
        still_running = exists().where(
            _part.c.post_id == post_id, _part.c.status != DispatchPartStatus.DONE
        )
        flipped = conn.execute(
            update(_post)
            .where(_post.c.id == post_id, _post.c.status == PostStatus.APPROVED, ~still_running)
            .values(status=PostStatus.DISPATCHED, dispatched_at=now, updated_at=now)
        ).rowcount
        if flipped != 1:
            return 0
        post = session.get_one(Post, post_id)
        campaign = session.get_one(Campaign, post.campaign_id)
        counts = {
            str(platform): int(n)
            for platform, n in conn.execute(
                select(_table.c.platform, func.count())
                .where(_table.c.post_id == post_id)
                .group_by(_table.c.platform)
            )
        }
        counts = {platform: counts.get(platform, 0) for platform in post.platform_list()}
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
            agency_id=campaign.agency_id,
            detail=json.dumps({"assignments": total, "platforms": counts}),
        )
    return total


def abandon(session: Session, post_id: int) -> None:
    """The post was withdrawn before its dispatch finished (content.workflow.withdraw, in its
    transaction, post row locked): cancel its parts and withdraw the assignments made so far.
    Nothing was announced yet (the notices are written at finish), so no message goes out."""
    conn = session.connection()
    now = utcnow()
    conn.execute(
        update(_part)
        .where(_part.c.post_id == post_id, _part.c.status == DispatchPartStatus.RUNNING)
        .values(status=DispatchPartStatus.CANCELLED, finished_at=now, updated_at=now)
    )
    conn.execute(
        update(_table)
        .where(_table.c.post_id == post_id, _table.c.status == AssignmentStatus.PENDING)
        .values(status=AssignmentStatus.WITHDRAWN)
    )


def progress(session: Session, post_id: int) -> Progress | None:
    """Done/total over the post's parts; None if its dispatch never started."""
    parts = session.scalars(select(DispatchPart).where(col(DispatchPart.post_id) == post_id)).all()
    if not parts:
        return None
    return Progress(
        parts=len(parts),
        parts_done=sum(p.status == DispatchPartStatus.DONE for p in parts),
        done=sum(p.done for p in parts),
        total=sum(p.total for p in parts),
        cancelled=any(p.status == DispatchPartStatus.CANCELLED for p in parts),
    )


def _lock_post(conn: Connection, post_id: int, *, share: bool) -> str:
    """The post's status, its row locked (PostgreSQL: FOR SHARE or FOR UPDATE; SQLite: the
    database write lock, taken by a no-op UPDATE)."""
    if conn.dialect.name == "postgresql":
        query = select(_post.c.status).where(_post.c.id == post_id)
        status = conn.scalar(query.with_for_update(read=share))
    else:
        conn.execute(
            update(_post).where(_post.c.id == post_id).values(updated_at=_post.c.updated_at)
        )
        status = conn.scalar(select(_post.c.status).where(_post.c.id == post_id))
    if status is None:
        raise NotFoundError("Post not found.")
    return str(status)


def _part_units(
    session: Session, campaign: Campaign, agency_id: int, unit_filter: str
) -> list[int]:
    """The units a part is limited to ([] = the whole agency): its own filter, else, in the
    campaign's own agency, the campaign's units."""
    if unit_filter:
        return [int(unit) for unit in unit_filter.split(",")]
    if agency_id != campaign.agency_id:
        return []
    return list(
        session.scalars(
            select(col(CampaignUnit.unit_id)).where(col(CampaignUnit.campaign_id) == campaign.id)
        )
    )


def _bound(conn: Connection, column: Column[Any], value: Any) -> Any:
    """The value as the driver wants it, converted once instead of once per row."""
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(value) if processor else value


def _rows(
    conn: Connection,
    post: Post,
    campaign: Campaign,
    platform: str,
    positions: Sequence[int],
    accounts: Sequence[tuple[int, int, int]],
    now: datetime,
    *,
    start: int = 0,
) -> list[tuple[Any, ...]]:
    """One tuple per account, in ASSIGNMENT_COLUMNS order, with a personal code.

    ``positions`` are the platform's approved texts (0 its own or the master text, 1..5 the
    alternatives); they go round robin over the accounts in eligibility order (by ASN id),
    so their counts differ by at most one and the same eligible ASN always gets the same
    text for the post. ``start``: how many accounts of the platform earlier chunks took.
    The text itself is not stored: assignments.texts renders it when read.
    """
    deadline = _bound(conn, _table.c.deadline, campaign.deadline)
    created = _bound(conn, _table.c.created_at, now)
    status = str(AssignmentStatus.PENDING)
    post_id, campaign_id = post.id, campaign.id
    token = secrets.token_urlsafe
    count = len(positions)
    return [
        (
            post_id,
            campaign_id,
            unit_id,
            asn_id,
            account_id,
            platform,
            token(CODE_BYTES),
            positions[(start + n) % count],
            status,
            deadline,
            created,
        )
        for n, (asn_id, unit_id, account_id) in enumerate(accounts)
    ]


def _copy(
    conn: Connection,
    post: Post,
    campaign: Campaign,
    platform: str,
    positions: Sequence[int],
    accounts: Sequence[tuple[int, int, int]],
    now: datetime,
    start: int,
) -> None:
    """PostgreSQL: the same rows as ``_rows``, sent with COPY (text format) through the
    connection's psycopg connection, in the chunk's transaction. Each line is one f-string
    (codes are URL-safe, every other value a number or constant), no per-value adaptation.
    """
    if not accounts:
        return
    _insert_hook(conn, accounts)
    count = len(positions)
    head = f"{post.id}\t{campaign.id}\t"
    tail = f"\t{AssignmentStatus.PENDING}\t{campaign.deadline.isoformat()}\t{now.isoformat()}\n"
    token = secrets.token_urlsafe
    data = "".join(
        [
            f"{head}{unit_id}\t{asn_id}\t{account_id}\t{platform}\t{token(CODE_BYTES)}\t"
            f"{positions[(start + n) % count]}{tail}"
            for n, (asn_id, unit_id, account_id) in enumerate(accounts)
        ]
    )
    names = ", ".join(ASSIGNMENT_COLUMNS)
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f"COPY {_table.name} ({names}) FROM STDIN") as copy:
        copy.write(data.encode())


def _insert_hook(conn: Connection, rows: Sequence[Any]) -> None:
    """Called before every chunk's rows go in (tests raise here to kill a worker mid-chunk)."""


def _insert(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """SQLite: the driver's executemany, no per-row SQLAlchemy work."""
    if not rows:
        return
    _insert_hook(conn, rows)
    names = ", ".join(ASSIGNMENT_COLUMNS)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    values = ", ".join([mark] * len(ASSIGNMENT_COLUMNS))
    # Only constant identifiers are interpolated; the data goes in as parameters.
    sql = f"INSERT INTO {_table.name} ({names}) VALUES ({values})"  # noqa: S608
    conn.exec_driver_sql(sql, list(rows))
