"""Web Push first, the ASN's own messenger as the fallback.

**Routing.** When a notice is written (a post's assignment notices: the dispatch hook
:func:`route_post`; reminders: :func:`route_keys`), the ones for ASN with at least one
subscribed device switch to the ``webpush`` messenger in the same transaction. The
row keeps its text and its address on the ASN's messenger, so nothing else changes.

**Sending.** ``scheduler.deliver`` claims push notices like any other (the claim is what
makes them go out once across workers) and hands the whole claim to :func:`deliver_batch`,
which pushes them concurrently (channels.webpush) and records every outcome in one
transaction:

- accepted by at least one device: ``sent``;
- every device gone (404/410, deleted by the channel) or refused (400, 401/403, 413), or
  no device left: handed to the ASN's messenger, the same row queued again there;
- 429, 5xx, a refused or timed-out connection: queued again after the push service's
  ``Retry-After`` or the usual backoff; after ``max_attempts`` handed to the messenger;
- no answer after the request went out: ``unknown``, as for any lost send: never repeated
  (the push service may have shown it), listed for Humas under *Undelivered messages*.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.engine import Connection, Engine, Row

from channels import webpush
from channels.messaging import MESSENGERS, PermanentSendError, TransientSendError
from gaung import i18n
from gaung.db import utcnow
from gaung.i18n import gettext as _
from gaung.settings import get_settings
from kernel import queue
from kernel.outbox import NO_ADDRESS, PERSON_MESSENGERS, OutboxKind, OutboxMessage, OutboxStatus
from roster.models import Asn

log = logging.getLogger(__name__)

_table = OutboxMessage.__table__  # type: ignore[attr-defined]
_asn = Asn.__table__  # type: ignore[attr-defined]
_subscriptions = webpush.PushSubscription.__table__  # type: ignore[attr-defined]
ROUTED_KINDS = (OutboxKind.ASSIGNMENT, OutboxKind.REMINDER)
_CHUNK = 1000
_ERROR_MAX = 4000


# --- routing -------------------------------------------------------------------------------


def route_post(conn: Connection, post_id: int) -> None:
    """Dispatch hook (after ``scheduler.outbox.write_outbox``): the post's notices go by push
    to ASN with a subscribed device."""
    _route(conn, _table.c.key.like(f"post:{post_id}:asn:%"))


def route_keys(conn: Connection, keys: Sequence[str]) -> None:
    """The same for notices just queued under ``keys`` (reminders)."""
    for start in range(0, len(keys), _CHUNK):
        _route(conn, _table.c.key.in_(list(keys[start : start + _CHUNK])))


def _route(conn: Connection, which: Any) -> None:
    subscribed = exists().where(_subscriptions.c.asn_id == _table.c.asn_id)
    # An ASN with no address on their messenger is still reached on their devices.
    waiting = or_(
        _table.c.status == OutboxStatus.QUEUED,
        and_(_table.c.status == OutboxStatus.FAILED, _table.c.last_error == NO_ADDRESS),
    )
    conn.execute(
        update(_table)
        .where(
            which,
            waiting,
            _table.c.attempts == 0,
            _table.c.kind.in_([str(k) for k in ROUTED_KINDS]),
            subscribed,
        )
        .values(messenger=webpush.SLUG, status=OutboxStatus.QUEUED, last_error=None)
        .execution_options(synchronize_session=False)
    )


# --- sending -------------------------------------------------------------------------------


def _people(engine: Engine, asn_ids: set[int]) -> dict[int, Row[Any]]:
    columns = (_asn.c.id, _asn.c.locale, _asn.c.messenger, _asn.c.email, _asn.c.telegram_chat_id)
    found: dict[int, Row[Any]] = {}
    ids = sorted(asn_ids)
    with engine.connect() as conn:
        for start in range(0, len(ids), 5000):
            query = select(*columns, _asn.c.phone).where(_asn.c.id.in_(ids[start : start + 5000]))
            found.update({row.id: row for row in conn.execute(query)})
    return found


def notice_for(
    row: Row[Any], locale: str | None, bodies: dict[tuple[str | None, bool], str] | None = None
) -> tuple[webpush.Notice, str]:
    """What the device shows for an outbox row, and the push Topic (a newer notice about the
    same assignment replaces one the push service still holds). ``bodies``: the translated
    body per (locale, urgent), kept by a caller building many notices."""
    base = get_settings().base_url.rstrip("/")
    url = f"{base}/inbox/{row.assignment_id}" if row.assignment_id else f"{base}/inbox"
    urgent = row.priority > 0
    body = bodies.get((locale, urgent)) if bodies is not None else None
    if body is None:
        with i18n.use_locale(locale):
            body = _("Urgent: please act now.") if urgent else _("Tap to open the assignment.")
        if bodies is not None:
            bodies[(locale, urgent)] = body
    tag = f"gaung-assignment-{row.assignment_id}" if row.assignment_id else f"gaung-{row.key}"
    topic = f"a{row.assignment_id}" if row.assignment_id else ""
    return webpush.Notice(row.subject, body, url, tag[:100], urgent), topic


def deliver_batch(engine: Engine, worker: str, rows: list[Row[Any]]) -> None:
    """Push every claimed row, then record all outcomes at once (see the module doc)."""
    people = _people(engine, {row.asn_id for row in rows})
    bodies: dict[tuple[str | None, bool], str] = {}
    notices = []
    for row in rows:
        person = people.get(row.asn_id)
        notice, topic = notice_for(row, person.locale if person else None, bodies)
        notices.append((row.asn_id, notice, topic))
    try:
        outcomes, devices = webpush.push_batch(engine, notices)
    except Exception as exc:
        # Outside the contract (a bug, the database gone mid-batch): some may have gone out.
        log.exception("web push batch of %s failed", len(rows))
        error = f"{type(exc).__name__}: {exc}"
        _store(engine, worker, [(row, _unknown(row, error)) for row in rows], [])
        return
    now = utcnow()
    sent: list[tuple[Row[Any], str]] = []
    changes = []
    for row, outcome in zip(rows, outcomes, strict=True):
        if outcome.result is not None:
            sent.append((row, outcome.result.provider_id))
            continue
        if outcome.unknown:
            values = _unknown(row, f"web push: no answer after sending ({outcome.unknown})")
        elif isinstance(outcome.error, TransientSendError) and not _out_of_attempts(row):
            wait = outcome.error.retry_after
            delay = timedelta(seconds=wait) if wait is not None else queue.backoff(row.attempts)
            values = _values(
                row, status=OutboxStatus.QUEUED, run_at=now + delay, error=str(outcome.error)
            )
            values["b_worker"] = None
        else:
            reason = (
                outcome.error.reason
                if isinstance(outcome.error, PermanentSendError)
                else str(outcome.error)
            )
            values = _fallback(row, people.get(row.asn_id), reason, now)
        changes.append((row, values))
    _store(engine, worker, changes, sent, now, devices)


def _out_of_attempts(row: Row[Any]) -> bool:
    return bool(row.attempts >= get_settings().scheduler.max_attempts)


def _values(
    row: Row[Any],
    *,
    status: str,
    provider_id: str | None = None,
    run_at: datetime | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "b_status": str(status),
        "b_messenger": row.messenger,
        "b_recipient": row.recipient,
        "b_attempts": row.attempts,
        "b_run_at": run_at or row.run_at,
        "b_worker": row.worker,
        "b_provider_id": provider_id,
        "b_sent_at": None,
        "b_last_error": error[:_ERROR_MAX] if error else None,
    }


def _unknown(row: Row[Any], error: str) -> dict[str, Any]:
    return _values(row, status=OutboxStatus.UNKNOWN, error=error)


def _fallback(row: Row[Any], person: Row[Any] | None, reason: str, now: datetime) -> dict[str, Any]:
    """Queue the row again on the ASN's own messenger, from attempt 0, saying why."""
    slug = person.messenger if person is not None else ""
    spec = PERSON_MESSENGERS.get(slug)
    if spec is None or slug not in MESSENGERS or slug == webpush.SLUG:
        return _values(
            row, status=OutboxStatus.FAILED, error=f"{reason}; no messenger to fall back on"
        )
    address = getattr(person, spec.address_field, None)
    status = OutboxStatus.QUEUED if address else OutboxStatus.FAILED
    error = f"{reason}; handed to {slug}" if address else f"{reason}; {slug}: {NO_ADDRESS}"
    values = _values(row, status=status, run_at=now, error=error)
    values.update(b_messenger=slug, b_recipient=address, b_attempts=0, b_worker=None)
    return values


def _store(
    engine: Engine,
    owner: str,
    changes: list[tuple[Row[Any], dict[str, Any]]],
    sent: list[tuple[Row[Any], str]],
    now: datetime | None = None,
    devices: webpush.Devices | None = None,
) -> None:
    """Record every outcome in one transaction, each only if this worker still holds the row
    (a row marked unknown after our lease ran out still takes it: better knowledge), with
    what the pushes learned about the devices. ``sent``: (row, provider id) of the sent ones."""
    if not changes and not sent and devices is None:
        return
    with engine.begin() as conn:
        if devices is not None:
            devices.record(conn)
        if sent:
            _record_sent(conn, owner, sent, now or utcnow())
        if changes:
            params = [
                {**values, "b_id": row.id, "b_claimed_attempts": row.attempts, "b_owner": owner}
                for row, values in changes
            ]
            for start in range(0, len(params), _CHUNK):
                conn.execute(_STORE, params[start : start + _CHUNK])


_HELD = or_(
    # Not IN (...): an expanding parameter cannot go in an executemany.
    _table.c.status == OutboxStatus.SENDING,
    _table.c.status == OutboxStatus.UNKNOWN,
)
_STORE = (
    update(_table)
    .where(
        _table.c.id == bindparam("b_id"),
        _table.c.worker == bindparam("b_owner"),
        _table.c.attempts == bindparam("b_claimed_attempts"),
        _HELD,
    )
    .values(
        status=bindparam("b_status"),
        messenger=bindparam("b_messenger"),
        recipient=bindparam("b_recipient"),
        attempts=bindparam("b_attempts"),
        run_at=bindparam("b_run_at"),
        worker=bindparam("b_worker"),
        provider_id=bindparam("b_provider_id"),
        sent_at=bindparam("b_sent_at"),
        last_error=bindparam("b_last_error"),
        lease_until=None,
    )
)
_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _record_sent(
    conn: Connection, owner: str, sent: list[tuple[Row[Any], str]], now: datetime
) -> None:
    """The sent rows, the bulk of a batch: one prepared UPDATE run for all of them by the
    driver (executemany), without SQLAlchemy's per-row parameter processing."""
    dialect = conn.dialect
    mark = _MARKS.get(dialect.paramstyle)
    if mark is None:  # a driver we do not know how to address directly
        params = [
            {
                **_values(row, status=OutboxStatus.SENT, provider_id=provider_id),
                "b_sent_at": now,
                "b_id": row.id,
                "b_claimed_attempts": row.attempts,
                "b_owner": owner,
            }
            for row, provider_id in sent
        ]
        conn.execute(_STORE, params)
        return
    stamp = _table.c.sent_at.type.dialect_impl(dialect).bind_processor(dialect)
    sent_at = stamp(now) if stamp is not None else now
    # Only constants go into the text; every value is a bound parameter.
    statement = (
        f"UPDATE {_table.name} SET status = '{OutboxStatus.SENT}', provider_id = {mark},"  # noqa: S608
        f" sent_at = {mark}, last_error = NULL, lease_until = NULL"
        f" WHERE id = {mark} AND worker = {mark} AND attempts = {mark}"
        f" AND status IN ('{OutboxStatus.SENDING}', '{OutboxStatus.UNKNOWN}')"
    )
    rows = [(provider_id, sent_at, row.id, owner, row.attempts) for row, provider_id in sent]
    for start in range(0, len(rows), _CHUNK):
        conn.exec_driver_sql(statement, rows[start : start + _CHUNK])
