"""The daily digest: one message a day listing an ASN's new non-urgent assignments.

ASN who chose the digest get no notice per assignment for routine posts (the outbox
hook skips them); urgent ones (hoax clarifications, posts sent out at once) still
reach them immediately. Once a day (``settings.reminders.digest_hour_utc``, default
00:00 UTC = 07:00 WIB) a recurring job, keyed by its period so it fires once across
the cluster, summarises the assignments created during the previous 24 hours that
are still open and never had a notice of their own. That rule also covers an ASN
who switched the digest off after a dispatch skipped them: nothing goes unannounced.

Each ASN's message has the key ``digest:<date>:asn:<id>``, so a retried run is a no-op.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, exists, literal, or_, select
from sqlalchemy.engine import Engine

from assignments.models import Assignment
from channels.messaging import environment
from content.models import Campaign, CampaignKind, Post
from gaung import i18n
from gaung.db import utcnow
from gaung.i18n import gettext as _
from gaung.settings import PLATFORM_NAMES, PLATFORMS
from kernel.notices import Person, Rendered, message_row, queue_rows
from kernel.outbox import INBOX_LINK, NAME, OutboxKind, OutboxMessage
from roster.agencies import asn_zone_column
from roster.models import Asn, AsnStatus
from scheduler.reminders import REMINDABLE

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
# Campaigns listed by name; the rest are counted (Telegram takes 4,096 characters at most).
MAX_LISTED = 10
# WhatsApp template (must be approved): {{1}} name, {{2}} number of new assignments,
# {{3}} inbox link.
WHATSAPP_TEMPLATE = "gaung_digest"

_assignment = Assignment.__table__  # type: ignore[attr-defined]
_asn = Asn.__table__  # type: ignore[attr-defined]
_campaign = Campaign.__table__  # type: ignore[attr-defined]
_post = Post.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Item:
    """One campaign in a digest: which platforms, by when."""

    campaign_id: int
    title: str
    deadline: datetime
    platforms: tuple[str, ...]
    count: int  # assignments (a campaign may have several posts)


def message_key(day: str, asn_id: int) -> str:
    return f"digest:{day}:asn:{asn_id}"


def digest_job(engine: Engine, payload: dict[str, Any]) -> None:
    period = datetime.fromisoformat(str(payload["period"]))
    sent = send_digests(engine, period)
    log.info("digest of %s: %s messages queued", period.date().isoformat(), sent)


def send_digests(engine: Engine, period_start: datetime) -> int:
    """Queue the digest of the 24 hours before ``period_start``; returns how many messages."""
    now = utcnow()
    day = period_start.date().isoformat()
    with engine.begin() as conn:
        rows = conn.execute(_new_assignments(period_start - DAY, period_start, now)).all()
        people: dict[int, Person] = {}
        zones: dict[int, str | None] = {}  # each ASN's unit or agency zone
        first: dict[int, int] = {}
        found: dict[int, dict[int, Item]] = defaultdict(dict)
        for row in rows:
            people.setdefault(row.id, Person.from_row(row))
            zones[row.id] = row.timezone
            first.setdefault(row.id, row.assignment_id)
            items = found[row.id]
            item = items.get(row.campaign_id)
            platforms = (*item.platforms, row.platform) if item else (row.platform,)
            count = item.count + 1 if item else 1
            items[row.campaign_id] = Item(
                row.campaign_id, row.title, row.deadline, platforms, count
            )
        variants: dict[tuple[str, str | None, tuple[Item, ...]], Rendered] = {}
        messages = []
        for asn_id, items in found.items():
            person = people[asn_id]
            listed = tuple(_tidy(item) for item in sorted(items.values(), key=_by_deadline))
            variant = (person.locale, zones[asn_id], listed)
            if variant not in variants:
                variants[variant] = _render(*variant)
            messages.append(
                message_row(
                    person,
                    variants[variant],
                    key=message_key(day, asn_id),
                    kind=OutboxKind.DIGEST,
                    assignment_id=first[asn_id],
                    now=now,
                )
            )
        queue_rows(conn, messages)
    return len(messages)


def _by_deadline(item: Item) -> tuple[datetime, int]:
    return item.deadline, item.campaign_id


def _tidy(item: Item) -> Item:
    """Platforms once each, in the usual order, so equal digests render once."""
    platforms = tuple(p for p in PLATFORMS if p in item.platforms)
    return Item(item.campaign_id, item.title, item.deadline, platforms, item.count)


def _new_assignments(start: datetime, end: datetime, now: datetime) -> Any:
    """Open assignments created in [start, end) of routine posts that had no notice of their own.

    The notice's key is ``post:<post>:asn:<asn>`` (scheduler.outbox.message_key).
    """
    notice_key = (
        literal("post:")
        + cast(_assignment.c.post_id, String)
        + literal(":asn:")
        + cast(_assignment.c.asn_id, String)
    )
    noticed = exists().where(_outbox.c.key == notice_key)
    urgent = or_(_post.c.urgent, _campaign.c.kind == CampaignKind.HOAX_CLARIFICATION)
    return (
        select(
            _asn.c.id,
            _asn.c.name,
            _asn.c.locale,
            asn_zone_column(_asn).label("timezone"),
            _asn.c.messenger,
            _asn.c.email,
            _asn.c.telegram_chat_id,
            _asn.c.phone,
            _assignment.c.id.label("assignment_id"),
            _assignment.c.platform,
            _campaign.c.id.label("campaign_id"),
            _campaign.c.title,
            _campaign.c.deadline,
        )
        .select_from(_assignment)
        .join(_asn, _asn.c.id == _assignment.c.asn_id)
        .join(_post, _post.c.id == _assignment.c.post_id)
        .join(_campaign, _campaign.c.id == _assignment.c.campaign_id)
        .where(
            and_(
                _assignment.c.created_at >= start,
                _assignment.c.created_at < end,
                _assignment.c.status.in_([str(s) for s in REMINDABLE]),
                _assignment.c.deadline > now,
                _asn.c.status == AsnStatus.ACTIVE,
                ~urgent,
                ~noticed,
            )
        )
        .order_by(_asn.c.id, _assignment.c.id)
    )


def _render(locale: str, timezone: str | None, items: tuple[Item, ...]) -> Rendered:
    with i18n.use_locale(locale), i18n.use_zone(timezone):
        listed = [
            {
                "title": item.title,
                "platforms": ", ".join(PLATFORM_NAMES.get(p, p) for p in item.platforms),
                "deadline": i18n.format_datetime(item.deadline, "short"),
            }
            for item in items[:MAX_LISTED]
        ]
        count = sum(item.count for item in items)
        context = {
            "asn_name": NAME,
            "items": listed,
            "more": max(len(items) - MAX_LISTED, 0),
            "count": count,
            "inbox_url": INBOX_LINK,
        }
        subject = _("Daily summary: %(count)s new assignments") % {"count": count}
        env = environment()
        text = env.get_template("digest.txt.j2").render(context)
        html = env.get_template("digest.html.j2").render(context)
    params = {"1": NAME, "2": str(count), "3": INBOX_LINK}
    return Rendered(subject, text, html, WHATSAPP_TEMPLATE, params)
