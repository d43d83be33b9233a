"""The delivery loop: send queued outbox messages, at most once each.

A message goes ``queued -> sending`` in a committed claim before the provider is
called, so the claim is the durable record that a send is being attempted. The
result is recorded right after the call: ``sent``, ``queued`` again (transient
failure, with backoff or the provider's retry-after) or ``failed`` (permanent, or
out of attempts).

A crash between the send and the record leaves the row ``sending`` under a lease
that expires. Whether the provider got the message is then unknowable (Telegram and
WhatsApp have no idempotent send), so such a row becomes ``unknown`` and is never
resent automatically: an ASN missing one notice is recoverable by Humas, a flood of
duplicates after every crash is not. A messenger that is ``idempotent`` (the agency's
webhook gateway deduplicates by the outbox key) gets the row queued again instead: the
resend carries the same key, so the provider answers it without delivering twice.

To keep the window between claim and send small, a worker only claims what the
cluster-wide rate window (kernel.ratelimit) lets it send within about
``CLAIM_HORIZON_SECONDS``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from markupsafe import escape
from sqlalchemy import Column, ColumnElement, and_, func, literal_column, select, update
from sqlalchemy.engine import Connection, Engine, Row

from channels.messaging import (
    MESSENGERS,
    OutgoingMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from gaung.db import is_postgres, utcnow
from gaung.settings import get_settings
from kernel import queue, ratelimit
from kernel.outbox import INBOX_LINK, NAME, OutboxMessage, OutboxStatus
from roster.models import Asn
from roster.security import magic_link_url

log = logging.getLogger(__name__)

CLAIM_HORIZON_SECONDS = 2.0
# Sends run in threads: providers answer in tens to hundreds of milliseconds, and the
# shared rate window (kernel.ratelimit), not the thread count, is what bounds the rate.
SEND_THREADS = 16
LOST = "worker lost between send and record; not resent"
LOST_RESENT = "worker lost between send and record; resent with the same idempotency key"
_ERROR_MAX = 4000
_table = OutboxMessage.__table__  # type: ignore[attr-defined]
_asn = Asn.__table__  # type: ignore[attr-defined]
# Messengers that take a whole claim at once and record its outcomes themselves (web push:
# scheduler.push.deliver_batch), slug -> sender(engine, worker, rows). Filled by wiring.
# Their rate limits are the push services' own (429 per origin), not a shared window.
BATCH_SENDERS: dict[str, Callable[[Engine, str, list[Row[Any]]], None]] = {}
# What a batch sender reads of a claimed row (scheduler.push): not the message bodies
# (text, html, params), which a push does not carry and a fallback leaves in the row, nor
# the times it does not use (each datetime read costs a conversion per row).
BATCH_COLUMNS = tuple(
    _table.c[name]
    for name in (
        "id",
        "key",
        "assignment_id",
        "asn_id",
        "messenger",
        "priority",
        "recipient",
        "subject",
        "run_at",
        "attempts",
        "worker",
    )
)


def deliver_due(engine: Engine, worker: str, *, limit: int = 200) -> int:
    """Claim up to ``limit`` due messages of the rate-limited messengers and a batch
    (``scheduler.batch_claim``) of each batch messenger, send them, record the outcomes;
    returns how many."""
    mark_lost(engine)
    claimed: list[Row[Any]] = []
    slots: dict[str, ratelimit.Slots] = {}
    batches: list[tuple[str, list[Row[Any]]]] = []
    for messenger in _due_messengers(engine):
        if messenger in BATCH_SENDERS:  # a whole batch, whatever ``limit`` leaves
            size = get_settings().scheduler.batch_claim
            taken = claim(engine, worker, messenger=messenger, limit=size, columns=BATCH_COLUMNS)
            if taken:
                batches.append((messenger, taken))
            continue
        count = len(claimed)
        if count >= limit:
            continue
        room = min(limit - count, _horizon(engine, messenger))
        taken = claim(engine, worker, messenger=messenger, limit=room) if room > 0 else []
        if taken:
            # Send slots come from the cluster-wide window only for what was claimed.
            slots[messenger] = ratelimit.reserve(engine, messenger, len(taken))
            claimed += taken
    total = len(claimed) + sum(len(rows) for _, rows in batches)
    if not total:
        return 0
    people = _people(engine, {row.asn_id for row in claimed}) if claimed else {}
    threads = min(SEND_THREADS, len(claimed)) + len(batches)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        # A batch goes out beside the others' sends, not before them: their slots are now.
        sending = [pool.submit(BATCH_SENDERS[m], engine, worker, rows) for m, rows in batches]
        list(pool.map(lambda row: _deliver_one(engine, worker, row, people, slots), claimed))
        for batch in sending:
            batch.result()
    return total


def mark_lost(engine: Engine) -> int:
    """Rows still ``sending`` after their lease: the worker died mid-send. Returns how many.

    Through an idempotent messenger (the provider deduplicates by the outbox key) such a
    row is queued again with the same key, up to ``max_attempts``; otherwise it becomes
    ``unknown`` and is never resent.
    """
    now = utcnow()
    lost = and_(_table.c.status == OutboxStatus.SENDING, _table.c.lease_until < now)
    idempotent = [slug for slug, m in MESSENGERS.items() if getattr(m, "idempotent", False)]
    retry = and_(
        _table.c.messenger.in_(idempotent),
        _table.c.attempts < get_settings().scheduler.max_attempts,
    )
    with engine.begin() as conn:
        requeued = conn.execute(
            update(_table)
            .where(lost, retry)
            .values(
                status=OutboxStatus.QUEUED,
                run_at=now,
                worker=None,
                lease_until=None,
                last_error=LOST_RESENT,
            )
        ).rowcount
        unknown = conn.execute(
            update(_table)
            .where(lost)
            .values(status=OutboxStatus.UNKNOWN, lease_until=None, last_error=LOST)
        ).rowcount
    if requeued:
        log.warning("%s outbox messages lost mid-send, queued again (same key)", requeued)
    if unknown:
        log.warning("%s outbox messages lost mid-send, marked unknown", unknown)
    return int(requeued + unknown)


def _horizon(engine: Engine, messenger: str) -> int:
    """How many messages the shared window lets go out within the horizon (0: none)."""
    free = CLAIM_HORIZON_SECONDS - ratelimit.backlog(engine, messenger)
    if free <= 0:
        return 0  # other workers hold the next CLAIM_HORIZON_SECONDS of slots
    return max(1, int(ratelimit.rate_for(messenger) * free))


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(_table.c.status == OutboxStatus.QUEUED, _table.c.run_at <= now)


def _due_messengers(engine: Engine) -> list[str]:
    """The registered messengers with a due message: one probe each through the
    ``(status, messenger, run_at)`` index, instead of reading every due row (a DISTINCT
    over a backlog of 100,000 notices cost more than claiming them)."""
    now = utcnow()
    found = []
    with engine.connect() as conn:
        for slug in sorted(MESSENGERS.keys() | BATCH_SENDERS.keys()):
            probe = select(_table.c.id).where(_due(now), _table.c.messenger == slug).limit(1)
            if conn.scalar(probe) is not None:
                found.append(slug)
    return found


def claim(
    engine: Engine,
    worker: str,
    *,
    messenger: str,
    limit: int,
    columns: Sequence[Column[Any]] | None = None,
) -> list[Row[Any]]:
    """Atomically take up to ``limit`` due messages of ``messenger`` (status sending, leased);
    the rows carry ``columns`` (default: every column)."""
    now = utcnow()
    lease = now + timedelta(seconds=get_settings().scheduler.lease_seconds)
    due = and_(_due(now), _table.c.messenger == messenger)
    with engine.begin() as conn:
        ids = _candidates(conn, due, limit, lock=is_postgres(engine))
        if not ids:
            return []
        # Re-checking "due" makes the UPDATE the arbiter on SQLite (single writer); on
        # PostgreSQL the rows are already locked (FOR UPDATE SKIP LOCKED). The no-op
        # coalesce keeps the status out of SQLite's index choice: without statistics it
        # would range over every due row by index instead of looking up the ids.
        still_due = and_(
            func.coalesce(_table.c.status, "") == OutboxStatus.QUEUED,
            _table.c.run_at <= now,
            _table.c.messenger == messenger,
        )
        target = and_(_table.c.id.in_(ids), still_due)
        rows = conn.execute(
            update(_table)
            .where(target)
            .values(
                status=OutboxStatus.SENDING,
                worker=worker,
                lease_until=lease,
                attempts=_table.c.attempts + 1,
            )
            .returning(*(columns or _table.c))
        ).all()
    return sorted(rows, key=lambda row: (-row.priority, row.run_at, row.id))


def _candidates(conn: Connection, due: ColumnElement[bool], limit: int, *, lock: bool) -> list[int]:
    """Ids to claim: urgent notices (priority > 0) first, then routine ones, oldest first.

    Two index range scans (urgent ones through a partial index) rather than one
    ORDER BY priority, which would sort the whole due backlog on every claim. The
    literal 0 lets SQLite match the partial index's predicate.
    """
    ids: list[int] = []
    zero: ColumnElement[int] = literal_column("0")
    for level in (_table.c.priority > zero, _table.c.priority <= zero):
        query = (
            select(_table.c.id)
            .where(due, level)
            .order_by(_table.c.run_at, _table.c.id)
            .limit(limit - len(ids))
        )
        ids += conn.scalars(query.with_for_update(skip_locked=True) if lock else query)
        if len(ids) >= limit:
            break
    return ids


def _people(engine: Engine, asn_ids: set[int]) -> dict[int, tuple[int, str]]:
    """asn_id -> (login_epoch, name), read at send time."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_asn.c.id, _asn.c.login_epoch, _asn.c.name).where(_asn.c.id.in_(asn_ids))
        )
        return {asn_id: (epoch, name) for asn_id, epoch, name in rows}


def outgoing(row: Row[Any], login_epoch: int, name: str) -> OutgoingMessage:
    """The message with the ASN's magic link minted now (see scheduler.outbox)."""
    link = magic_link_url(row.asn_id, login_epoch)
    params = json.loads(row.params) if row.params else None
    if params:
        params = {
            k: v.replace(INBOX_LINK, link).replace(NAME, name) if isinstance(v, str) else v
            for k, v in params.items()
        }
    return OutgoingMessage(
        to=row.recipient,
        subject=row.subject,
        text=row.text.replace(INBOX_LINK, link),
        html=row.html.replace(INBOX_LINK, str(escape(link))) if row.html else None,
        idempotency_key=row.key,
        template=row.template,
        params=params,
    )


def _deliver_one(
    engine: Engine,
    worker: str,
    row: Row[Any],
    people: dict[int, tuple[int, str]],
    slots: dict[str, ratelimit.Slots],
) -> None:
    messenger = MESSENGERS.get(row.messenger)
    if messenger is None:
        _record(engine, row, worker, status=OutboxStatus.FAILED, last_error="unknown messenger")
        return
    window = slots[row.messenger]
    window.acquire()
    try:
        epoch, name = people.get(row.asn_id, (0, ""))
        result = messenger.send(outgoing(row, epoch, name))
    except TransientSendError as exc:
        if exc.retry_after:
            # The provider's window applies to every message, from any worker.
            window.hold(exc.retry_after)
            ratelimit.hold(engine, row.messenger, exc.retry_after)
        _retry(engine, row, worker, exc)
    except PermanentSendError as exc:
        _record(engine, row, worker, status=OutboxStatus.FAILED, last_error=exc.reason)
    except Exception as exc:
        # Outside the contract: we cannot tell whether it went out, so no blind resend.
        log.exception("outbox message %s: unexpected error while sending", row.id)
        error = f"{type(exc).__name__}: {exc}"
        _record(engine, row, worker, status=OutboxStatus.UNKNOWN, last_error=error)
    else:
        _sent(engine, row, worker, result)


def _sent(engine: Engine, row: Row[Any], worker: str, result: SendResult) -> None:
    _record(
        engine,
        row,
        worker,
        status=OutboxStatus.SENT,
        provider_id=result.provider_id,
        sent_at=utcnow(),
        last_error=None,
    )


def _retry(engine: Engine, row: Row[Any], worker: str, exc: TransientSendError) -> None:
    if row.attempts >= get_settings().scheduler.max_attempts:
        # Out of attempts, but only for now: Humas may retry it (web/messages_console).
        failed = {"status": OutboxStatus.FAILED, "last_error": str(exc), "retryable": True}
        _record(engine, row, worker, **failed)
        return
    delay = (
        timedelta(seconds=exc.retry_after)
        if exc.retry_after is not None
        else queue.backoff(row.attempts)
    )
    _record(
        engine,
        row,
        worker,
        status=OutboxStatus.QUEUED,
        run_at=utcnow() + delay,
        worker=None,
        last_error=str(exc),
    )


def _record(engine: Engine, row: Row[Any], owner: str, **values: Any) -> bool:
    """Store an outcome if this worker still owns the row.

    A row another worker already marked ``unknown`` (our lease ran out mid-send)
    still takes our outcome: it is better knowledge than "unknown".
    """
    if values.get("last_error"):
        values["last_error"] = values["last_error"][:_ERROR_MAX]
    with engine.begin() as conn:
        changed = conn.execute(
            update(_table)
            .where(
                _table.c.id == row.id,
                _table.c.worker == owner,
                _table.c.attempts == row.attempts,
                _table.c.status.in_([OutboxStatus.SENDING, OutboxStatus.UNKNOWN]),
            )
            .values(lease_until=None, **values)
        ).rowcount
    if changed != 1:
        log.warning("outbox message %s: no longer held by %s; outcome dropped", row.id, owner)
    return changed == 1
