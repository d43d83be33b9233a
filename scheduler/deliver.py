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
duplicates after every crash is not. To keep that window small, a worker only
claims what its rate limit lets it send within about ``CLAIM_HORIZON_SECONDS``.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from markupsafe import escape
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.engine import Engine, Row

from channels.messaging import (
    MESSENGERS,
    OutgoingMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from gaung.db import is_postgres, utcnow
from gaung.security import magic_link_url
from gaung.settings import get_settings
from roster.models import Asn
from scheduler import queue
from scheduler.outbox import INBOX_LINK, NAME, OutboxMessage, OutboxStatus
from scheduler.ratelimit import bucket_for

log = logging.getLogger(__name__)

CLAIM_HORIZON_SECONDS = 2.0
# Sends run in threads: providers answer in tens to hundreds of milliseconds, and the
# token bucket, not the thread count, is what bounds the rate.
SEND_THREADS = 16
LOST = "worker lost between send and record; not resent"
_ERROR_MAX = 4000
_table = OutboxMessage.__table__  # type: ignore[attr-defined]
_asn = Asn.__table__  # type: ignore[attr-defined]


def deliver_due(engine: Engine, worker: str, *, limit: int = 200) -> int:
    """Claim up to ``limit`` due messages, send them, record the outcomes; returns how many."""
    mark_lost(engine)
    claimed: list[Row[Any]] = []
    for messenger in _due_messengers(engine):
        room = min(limit - len(claimed), _horizon(messenger))
        if room <= 0:
            break
        claimed += claim(engine, worker, messenger=messenger, limit=room)
    if not claimed:
        return 0
    people = _people(engine, {row.asn_id for row in claimed})
    with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(claimed))) as pool:
        list(pool.map(lambda row: _deliver_one(engine, worker, row, people), claimed))
    return len(claimed)


def mark_lost(engine: Engine) -> int:
    """Rows still ``sending`` after their lease: the worker died mid-send. Returns how many."""
    with engine.begin() as conn:
        result = conn.execute(
            update(_table)
            .where(_table.c.status == OutboxStatus.SENDING, _table.c.lease_until < utcnow())
            .values(status=OutboxStatus.UNKNOWN, lease_until=None, last_error=LOST)
        )
    if result.rowcount:
        log.warning("%s outbox messages lost mid-send, marked unknown", result.rowcount)
    return int(result.rowcount)


def _horizon(messenger: str) -> int:
    return max(1, int(bucket_for(messenger).rate * CLAIM_HORIZON_SECONDS))


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(_table.c.status == OutboxStatus.QUEUED, _table.c.run_at <= now)


def _due_messengers(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(_table.c.messenger).where(_due(utcnow())).distinct()))


def claim(engine: Engine, worker: str, *, messenger: str, limit: int) -> list[Row[Any]]:
    """Atomically take up to ``limit`` due messages of ``messenger`` (status sending, leased)."""
    now = utcnow()
    lease = now + timedelta(seconds=get_settings().scheduler.lease_seconds)
    due = and_(_due(now), _table.c.messenger == messenger)
    candidates = select(_table.c.id).where(due).order_by(_table.c.run_at, _table.c.id).limit(limit)
    with engine.begin() as conn:
        if is_postgres(engine):
            ids = list(conn.scalars(candidates.with_for_update(skip_locked=True)))
            if not ids:
                return []
            target = _table.c.id.in_(ids)
        else:
            # SQLite's single writer makes the re-checked conditional UPDATE the arbiter.
            target = and_(_table.c.id.in_(candidates.scalar_subquery()), due)
        rows = conn.execute(
            update(_table)
            .where(target)
            .values(
                status=OutboxStatus.SENDING,
                worker=worker,
                lease_until=lease,
                attempts=_table.c.attempts + 1,
            )
            .returning(*_table.c)
        ).all()
    return sorted(rows, key=lambda row: (row.run_at, row.id))


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
    engine: Engine, worker: str, row: Row[Any], people: dict[int, tuple[int, str]]
) -> None:
    messenger = MESSENGERS.get(row.messenger)
    if messenger is None:
        _record(engine, row, worker, status=OutboxStatus.FAILED, last_error="unknown messenger")
        return
    bucket = bucket_for(row.messenger)
    bucket.acquire()
    try:
        epoch, name = people.get(row.asn_id, (0, ""))
        result = messenger.send(outgoing(row, epoch, name))
    except TransientSendError as exc:
        if exc.retry_after:
            bucket.hold(exc.retry_after)  # the provider's window applies to every message
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
        _record(engine, row, worker, status=OutboxStatus.FAILED, last_error=str(exc))
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
