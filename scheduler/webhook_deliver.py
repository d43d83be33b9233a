"""The webhook delivery loop: send due ``webhook_delivery`` rows, record what the receiver said.

Like the messenger outbox (``scheduler.deliver``): a delivery goes ``queued -> sending`` in a
committed claim under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional
UPDATE on SQLite), then the request is made and the outcome recorded, guarded by the
worker and the attempt number so a late worker never overwrites a newer outcome:

- 2xx: ``delivered``;
- a transient failure (5xx, 408/409/425/429, timeout, connection error): ``queued`` again
  after ``RETRY_DELAYS`` (with jitter), or after the receiver's ``Retry-After``, which then
  holds every queued delivery to that endpoint; ``failed`` (retryable from the console)
  once ``MAX_ATTEMPTS`` are used;
- a permanent one (410 and other 4xx, a redirect): ``failed``;
- the endpoint switched off meanwhile: ``failed`` (retryable once it is on again).

A delivery still ``sending`` after its lease ran out belongs to a worker that died, perhaps
after the receiver got the request. Unlike a Telegram or e-mail notice it is **sent again**,
with the same ``webhook-id``: Standard Webhooks receivers deduplicate by that id, so the
event still counts once. A receiver that does not deduplicate may see such an event twice.

Every process runs this loop on its clock (``scheduler.clock``); ``webhook_purge`` (daily)
drops delivered rows after ``KEEP``.
"""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    delete,
    exists,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import Connection, Engine, Row

from channels import webhooks_out
from channels.webhooks_out import Outcome, Result
from gaung import crypto
from gaung.db import is_postgres, utcnow
from gaung.settings import get_settings
from kernel.webhooks import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

# Delay after attempt n (1-based): about a day and a half in all before giving up.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
RETRY_AFTER_CAP = timedelta(hours=24)
SEND_THREADS = 8
KEEP = timedelta(days=30)
PURGE_EVERY = timedelta(days=1)
PURGE_AT = timedelta(hours=20)  # 03:00 WIB
LOST = "worker lost between send and record; sent again with the same webhook-id"
DISABLED = "the endpoint is switched off"
UNREADABLE = "the endpoint's secret cannot be decrypted with the configured keys"
_ERROR_MAX = 1000
_delivery = WebhookDelivery.__table__  # type: ignore[attr-defined]
_endpoint = WebhookEndpoint.__table__  # type: ignore[attr-defined]
_event = WebhookEvent.__table__  # type: ignore[attr-defined]


def backoff(attempts: int) -> timedelta:
    """The wait after ``attempts`` tries, with jitter so retries do not arrive together."""
    delay = RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]
    jittered: timedelta = delay * random.uniform(0.8, 1.2)
    return jittered


def deliver_webhooks(engine: Engine, worker: str, *, limit: int = 50) -> int:
    """Claim up to ``limit`` due deliveries, send them, record the outcomes; returns how many."""
    requeue_lost(engine)
    claimed = claim(engine, worker, limit=limit)
    if not claimed:
        return 0
    endpoints = _endpoints(engine, {row.endpoint_id for row in claimed})
    payloads = _payloads(engine, {row.event_id for row in claimed})
    with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(claimed))) as pool:
        list(
            pool.map(
                lambda row: _deliver_one(
                    engine, worker, row, endpoints.get(row.endpoint_id), payloads[row.event_id]
                ),
                claimed,
            )
        )
    return len(claimed)


def requeue_lost(engine: Engine) -> int:
    """Deliveries still ``sending`` after their lease: queue them again (same id). How many."""
    now = utcnow()
    lost = and_(_delivery.c.status == DeliveryStatus.SENDING, _delivery.c.lease_until < now)
    with engine.begin() as conn:
        again = conn.execute(
            update(_delivery)
            .where(lost, _delivery.c.attempts < MAX_ATTEMPTS)
            .values(
                status=DeliveryStatus.QUEUED,
                run_at=now,
                worker=None,
                lease_until=None,
                last_error=LOST,
            )
        ).rowcount
        spent = conn.execute(
            update(_delivery)
            .where(lost)
            .values(
                status=DeliveryStatus.FAILED,
                worker=None,
                lease_until=None,
                retryable=True,
                last_error=LOST,
            )
        ).rowcount
    if again or spent:
        log.warning("%s webhook deliveries lost mid-send: %s queued again", again + spent, again)
    return int(again + spent)


def _due(now: datetime) -> ColumnElement[bool]:
    """Queued, due, and not to an endpoint that asked to wait (Retry-After)."""
    held = select(_endpoint.c.id).where(_endpoint.c.held_until > now)
    return and_(
        _delivery.c.status == DeliveryStatus.QUEUED,
        _delivery.c.run_at <= now,
        _delivery.c.endpoint_id.not_in(held),
    )


def claim(engine: Engine, worker: str, *, limit: int) -> list[Row[Any]]:
    """Atomically take up to ``limit`` due deliveries (status sending, leased), oldest first."""
    now = utcnow()
    lease = now + timedelta(seconds=get_settings().scheduler.lease_seconds)
    with engine.begin() as conn:
        ids = _candidates(conn, now, limit, lock=is_postgres(engine))
        if not ids:
            return []
        rows = conn.execute(
            update(_delivery)
            # Re-checking "due" makes the UPDATE the arbiter on SQLite (single writer).
            .where(_delivery.c.id.in_(ids), _due(now))
            .values(
                status=DeliveryStatus.SENDING,
                worker=worker,
                lease_until=lease,
                attempts=_delivery.c.attempts + 1,
            )
            .returning(*_delivery.c)
        ).all()
    return sorted(rows, key=lambda row: (row.run_at, row.id))


def _candidates(conn: Connection, now: datetime, limit: int, *, lock: bool) -> list[int]:
    query = (
        select(_delivery.c.id)
        .where(_due(now))
        .order_by(_delivery.c.run_at, _delivery.c.id)
        .limit(limit)
    )
    return list(conn.scalars(query.with_for_update(skip_locked=True) if lock else query))


def _endpoints(engine: Engine, ids: set[int]) -> dict[int, tuple[str, str | None, bool]]:
    """endpoint id -> (url, secret or None when it cannot be decrypted, active)."""
    raw_secret = type_coerce(_endpoint.c.secret, String)
    found: dict[int, tuple[str, str | None, bool]] = {}
    with engine.connect() as conn:
        query = select(_endpoint.c.id, _endpoint.c.url, raw_secret, _endpoint.c.active)
        for endpoint_id, url, token, active in conn.execute(query.where(_endpoint.c.id.in_(ids))):
            try:
                secret: str | None = crypto.decrypt(token)
            except crypto.DecryptionError:
                secret = None
            found[endpoint_id] = (url, secret, bool(active))
    return found


def _payloads(engine: Engine, ids: set[str]) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(_event.c.id, _event.c.payload).where(_event.c.id.in_(ids)))
        return {event_id: payload for event_id, payload in rows}


def _deliver_one(
    engine: Engine,
    worker: str,
    row: Row[Any],
    endpoint: tuple[str, str | None, bool] | None,
    payload: str,
) -> None:
    if endpoint is None or not endpoint[2]:
        _record(
            engine, row, worker, status=DeliveryStatus.FAILED, retryable=True, last_error=DISABLED
        )
        return
    url, secret, _active = endpoint
    if secret is None:
        _record(
            engine, row, worker, status=DeliveryStatus.FAILED, retryable=True, last_error=UNREADABLE
        )
        return
    try:
        outcome = webhooks_out.send(url, secret, row.event_id, payload)
    except Exception as exc:
        # Outside the contract (a bug, not the receiver): retried like a transient failure.
        log.exception("webhook delivery %s: unexpected error while sending", row.id)
        outcome = Outcome(Result.TRANSIENT, detail=f"{type(exc).__name__}: {exc}")
    if outcome.result == Result.DELIVERED:
        _record(
            engine,
            row,
            worker,
            status=DeliveryStatus.DELIVERED,
            response_code=outcome.status_code,
            delivered_at=utcnow(),
            last_error=None,
        )
    elif outcome.result == Result.PERMANENT:
        _record(
            engine,
            row,
            worker,
            status=DeliveryStatus.FAILED,
            response_code=outcome.status_code,
            last_error=outcome.detail,
        )
    else:
        _retry(engine, row, worker, outcome)


def _retry(engine: Engine, row: Row[Any], worker: str, outcome: Outcome) -> None:
    common = {"response_code": outcome.status_code, "last_error": outcome.detail}
    if row.attempts >= MAX_ATTEMPTS:
        _record(engine, row, worker, status=DeliveryStatus.FAILED, retryable=True, **common)
        return
    if outcome.retry_after is not None:
        wait = min(timedelta(seconds=outcome.retry_after), RETRY_AFTER_CAP)
        run_at = utcnow() + wait
        if _record(
            engine, row, worker, status=DeliveryStatus.QUEUED, run_at=run_at, worker=None, **common
        ):
            hold_endpoint(engine, row.endpoint_id, run_at)
        return
    run_at = utcnow() + backoff(row.attempts)
    _record(engine, row, worker, status=DeliveryStatus.QUEUED, run_at=run_at, worker=None, **common)


def hold_endpoint(engine: Engine, endpoint_id: int, until: datetime) -> None:
    """The receiver asked to wait (Retry-After): nothing goes to it before ``until``."""
    with engine.begin() as conn:
        conn.execute(
            update(_endpoint)
            .where(
                _endpoint.c.id == endpoint_id,
                or_(_endpoint.c.held_until.is_(None), _endpoint.c.held_until < until),
            )
            .values(held_until=until)
        )


def _record(engine: Engine, row: Row[Any], owner: str, **values: Any) -> bool:
    """Store an outcome if this worker still holds the delivery under this attempt."""
    if values.get("last_error"):
        values["last_error"] = values["last_error"][:_ERROR_MAX]
    with engine.begin() as conn:
        changed = conn.execute(
            update(_delivery)
            .where(
                _delivery.c.id == row.id,
                _delivery.c.worker == owner,
                _delivery.c.attempts == row.attempts,
                _delivery.c.status == DeliveryStatus.SENDING,
            )
            .values(lease_until=None, **values)
        ).rowcount
    if changed != 1:
        log.warning("webhook delivery %s: no longer held by %s; outcome dropped", row.id, owner)
    return changed == 1


def purge(engine: Engine, *, now: datetime | None = None) -> int:
    """Drop deliveries delivered before ``KEEP`` ago, then events left without deliveries."""
    cutoff = (now or utcnow()) - KEEP
    with engine.begin() as conn:
        gone = conn.execute(
            delete(_delivery).where(
                _delivery.c.status == DeliveryStatus.DELIVERED, _delivery.c.created_at < cutoff
            )
        ).rowcount
        orphan = ~exists().where(_delivery.c.event_id == _event.c.id)
        conn.execute(delete(_event).where(_event.c.created_at < cutoff, orphan))
    return int(gone)


def purge_job(engine: Engine, _payload: dict[str, Any]) -> None:
    removed = purge(engine)
    if removed:
        log.info("webhook deliveries purged: %s", removed)
