"""Outbox messages built in Python, one per ASN: reminders, digests, Telegram confirmations.

Assignment notices are inserted with one INSERT ... SELECT per variant
(``scheduler.outbox``); the messages here depend on per-ASN aggregates, so rows are
built in Python instead. The same economy applies: each *variant* (locale plus
whatever else shapes the text) is rendered once with the ``NAME`` and ``INBOX_LINK``
placeholders, and each ASN's row only substitutes their name. The magic link still
goes in at send time (``scheduler.deliver``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import escape
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Row

from gaung.db import utcnow
from kernel.outbox import (
    NAME,
    NO_ADDRESS,
    PERSON_MESSENGERS,
    OutboxMessage,
    OutboxStatus,
    address_field,
)

_table = OutboxMessage.__table__  # type: ignore[attr-defined]
# Rows per INSERT: bounded statements, still few round trips for 100,000 ASN.
CHUNK = 1000


@dataclass(frozen=True)
class Person:
    """Who a message goes to, as read from the ``asn`` table."""

    asn_id: int
    name: str
    locale: str
    messenger: str
    recipient: str | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> Person:
        """From a row with id, name, locale, messenger, email, telegram_chat_id, phone."""
        return cls(
            asn_id=row.id,
            name=row.name,
            locale=row.locale,
            messenger=row.messenger,
            recipient=address(row.messenger, row.email, row.telegram_chat_id, row.phone),
        )


def address(
    messenger: str, email: str | None, telegram_chat_id: str | None, phone: str | None
) -> str | None:
    """The ASN's address on their messenger (None when they have none there).

    Read through ``address_field``, like the assignment notices, so both agree on it.
    """
    columns = {"email": email, "telegram_chat_id": telegram_chat_id, "phone": phone}
    column = address_field(messenger)
    return (columns[column] if column else None) or None


@dataclass(frozen=True)
class Rendered:
    """One variant's texts, with ``NAME`` and ``INBOX_LINK`` placeholders."""

    subject: str
    text: str
    html: str | None
    whatsapp_template: str
    whatsapp_params: dict[str, str]


def message_row(
    person: Person,
    rendered: Rendered,
    *,
    key: str,
    kind: str,
    campaign_id: int | None = None,
    assignment_id: int | None = None,
    priority: int = 0,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The outbox row for one person; without an address it is failed at once (Humas sees it)."""
    now = now or utcnow()
    whatsapp = person.messenger == "whatsapp"
    error = None
    if person.messenger not in PERSON_MESSENGERS:
        error = "unknown messenger"
    elif person.recipient is None:
        error = NO_ADDRESS
    return {
        "key": key,
        "assignment_id": assignment_id,
        "campaign_id": campaign_id,
        "kind": kind,
        "priority": priority,
        "asn_id": person.asn_id,
        "messenger": person.messenger,
        "recipient": person.recipient,
        "subject": rendered.subject,
        "text": rendered.text.replace(NAME, person.name),
        "html": (rendered.html.replace(NAME, str(escape(person.name))) if rendered.html else None),
        # WhatsApp values keep NAME: scheduler.deliver fills it in at send time.
        "template": rendered.whatsapp_template if whatsapp else None,
        "params": json.dumps(rendered.whatsapp_params) if whatsapp else None,
        "status": OutboxStatus.FAILED if error else OutboxStatus.QUEUED,
        "attempts": 0,
        "run_at": now,
        "last_error": error,
        "retryable": False,
        "created_at": now,
    }


# Called with the keys just queued, in the same transaction (web push routes the notices of
# ASN with a subscribed device: scheduler.push.route_keys). Filled by wiring.
after_queue: list[Callable[[Connection, Sequence[str]], None]] = []


def queue_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert in the caller's transaction; a row whose key exists already is skipped."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(_table).on_conflict_do_nothing(index_elements=["key"])
    for start in range(0, len(rows), CHUNK):
        conn.execute(statement, list(rows[start : start + CHUNK]))
    if rows:
        keys = [str(row["key"]) for row in rows]
        for hook in after_queue:
            hook(conn, keys)
