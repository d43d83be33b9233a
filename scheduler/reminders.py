"""Reminders before a campaign's deadline to ASN who have not reposted yet.

Each campaign reminds at its own hours before the deadline (``Campaign.reminder_hours``,
e.g. "24,3"; default ``settings.reminders.default_hours``). The reminder work items are
queued by a dispatch hook, in the dispatch transaction, one per campaign and hour
(``remind:campaign:<id>:<hours>h``): a second post of the same campaign finds them
queued already. When one runs it writes one outbox message per ASN still holding
pending assignments of the campaign, listing them all (key
``reminder:<campaign>:<asn>:<hours>``), so a retried job never reminds twice.

Muted ASN get no reminder unless the campaign is urgent (a hoax clarification, or a
post sent out at once); urgent reminders also jump the delivery queue. ASN reminded by
hand (``scheduler.manual_reminders``) within ``reminders.recent_hours`` are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, select, true
from sqlalchemy.engine import Connection, Engine, Row
from sqlmodel import Session

from assignments.models import Assignment, AssignmentStatus
from channels.messaging import environment
from content.models import Campaign, CampaignKind, Post
from content.reminder_hours import hours_for
from gaung import i18n
from gaung.db import utcnow
from gaung.i18n import gettext as _
from gaung.settings import PLATFORM_NAMES, PLATFORMS, get_settings
from kernel import notices, queue
from kernel.models import WorkItem
from kernel.outbox import INBOX_LINK, NAME, OutboxKind, OutboxMessage
from roster.agencies import asn_zone_column
from roster.models import Asn, AsnStatus

# notices as a module: it imports scheduler.outbox, whose last line imports this module.

log = logging.getLogger(__name__)

# Still to do: not reported, verified, declined or expired. A rejected link needs a new one.
REMINDABLE = (AssignmentStatus.PENDING, AssignmentStatus.REJECTED)
# WhatsApp template (must be approved): {{1}} name, {{2}} campaign, {{3}} open count,
# {{4}} deadline, {{5}} inbox link.
WHATSAPP_TEMPLATE = "gaung_reminder"

_assignment = Assignment.__table__  # type: ignore[attr-defined]
_asn = Asn.__table__  # type: ignore[attr-defined]
_campaign = Campaign.__table__  # type: ignore[attr-defined]
_post = Post.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


# --- reminder times ---------------------------------------------------------------------


# --- scheduling at dispatch -------------------------------------------------------------


def work_key(campaign_id: int, hours: int) -> str:
    return f"remind:campaign:{campaign_id}:{hours}h"


def message_key(campaign_id: int, asn_id: int, hours: int) -> str:
    return f"reminder:{campaign_id}:{asn_id}:{hours}"


# Keys of reminders sent by hand: manual-reminder:<campaign>:<asn>:<manual_reminder id>.
MANUAL_PREFIX = "manual-reminder:"


def on_dispatch(conn: Connection, post_id: int) -> None:
    """Dispatch hook: queue the campaign's reminders that are still ahead (once per campaign)."""
    campaign = conn.execute(
        select(_campaign.c.id, _campaign.c.deadline, _campaign.c.reminder_hours)
        .join(_post, _post.c.campaign_id == _campaign.c.id)
        .where(_post.c.id == post_id)
    ).one()
    now = utcnow()
    with Session(bind=conn) as session:
        for hours in hours_for(campaign.reminder_hours):
            run_at = campaign.deadline - timedelta(hours=hours)
            if run_at <= now:
                continue  # the notice going out now says the same thing
            queue.enqueue(
                session,
                kind="reminder",
                key=work_key(campaign.id, hours),
                payload={"campaign_id": campaign.id, "hours": hours},
                run_at=run_at,
            )


# --- the reminder job -------------------------------------------------------------------


def reminder_job(engine: Engine, payload: dict[str, Any]) -> None:
    sent = send_reminders(engine, int(payload["campaign_id"]), int(payload["hours"]))
    log.info(
        "campaign %s: %s reminders queued (%sh)", payload["campaign_id"], sent, payload["hours"]
    )


def is_urgent(conn: Connection, campaign_id: int, kind: str) -> bool:
    """A hoax clarification, or a campaign with a post that was sent out at once."""
    if kind == CampaignKind.HOAX_CLARIFICATION:
        return True
    urgent_post = select(_post.c.id).where(_post.c.campaign_id == campaign_id, _post.c.urgent)
    return conn.execute(urgent_post.limit(1)).first() is not None


def send_reminders(engine: Engine, campaign_id: int, hours: int) -> int:
    """Queue one reminder per ASN with open assignments of the campaign; returns how many.

    ASN reminded by hand (``scheduler.manual_reminders``) within the last
    ``reminders.recent_hours`` are left out: they were just told the same thing.
    """
    now = utcnow()
    with engine.begin() as conn:
        campaign = conn.execute(
            select(_campaign.c.title, _campaign.c.kind, _campaign.c.deadline).where(
                _campaign.c.id == campaign_id
            )
        ).one_or_none()
        if campaign is None or campaign.deadline <= now:
            return 0
        urgent = is_urgent(conn, campaign_id, campaign.kind)
        recent = now - timedelta(hours=get_settings().reminders.recent_hours)
        query = open_per_asn(campaign_id, now, include_muted=urgent).where(
            ~exists().where(
                _outbox.c.asn_id == _asn.c.id,
                _outbox.c.campaign_id == campaign_id,
                _outbox.c.key.startswith(f"{MANUAL_PREFIX}{campaign_id}:"),
                _outbox.c.created_at > recent,
            )
        )
        people = conn.execute(query).all()
        rows = reminder_rows(
            people,
            campaign_id=campaign_id,
            title=campaign.title,
            deadline=campaign.deadline,
            urgent=urgent,
            key=lambda asn_id: message_key(campaign_id, asn_id, hours),
            now=now,
        )
        notices.queue_rows(conn, rows)
    return len(rows)


def reminder_rows(
    people: Sequence[Row[Any]],
    *,
    campaign_id: int,
    title: str,
    deadline: datetime,
    urgent: bool,
    key: Callable[[int], str],
    now: datetime,
) -> list[dict[str, Any]]:
    """One outbox row per person of ``open_per_asn``, each (locale, zone, platforms, count)
    variant rendered once; ``key`` gives a person's idempotency key from their id."""
    variants: dict[tuple[str, str | None, tuple[str, ...], int], notices.Rendered] = {}
    rows = []
    for row in people:
        platforms = tuple(p for p in PLATFORMS if getattr(row, f"has_{p}"))
        variant = (row.locale, row.timezone, platforms, row.open)
        if variant not in variants:
            variants[variant] = _render(title, deadline, urgent, *variant)
        rows.append(
            notices.message_row(
                notices.Person.from_row(row),
                variants[variant],
                key=key(row.id),
                kind=OutboxKind.REMINDER,
                campaign_id=campaign_id,
                assignment_id=row.first_id,
                priority=1 if urgent else 0,
                now=now,
            )
        )
    return rows


def open_per_asn(campaign_id: int, now: datetime, *, include_muted: bool) -> Select[Any]:
    """Per active ASN: contact columns, first open assignment, platforms and count still open."""
    has = [
        func.max(case((_assignment.c.platform == p, 1), else_=0)).label(f"has_{p}")
        for p in PLATFORMS
    ]
    people = (
        _asn.c.id,
        _asn.c.name,
        _asn.c.locale,
        _asn.c.messenger,
        _asn.c.unit_id,
        _asn.c.agency_id,
        _asn.c.mute_reminders,
    )
    contact = (_asn.c.email, _asn.c.telegram_chat_id, _asn.c.phone)
    muted = true() if include_muted else _asn.c.mute_reminders.is_(False)
    return (
        select(
            *people,
            *contact,
            asn_zone_column(_asn).label("timezone"),
            func.min(_assignment.c.id).label("first_id"),
            func.count().label("open"),
            *has,
        )
        .join(_asn, _asn.c.id == _assignment.c.asn_id)
        .where(
            and_(
                _assignment.c.campaign_id == campaign_id,
                _assignment.c.status.in_([str(s) for s in REMINDABLE]),
                _assignment.c.deadline > now,
                _asn.c.status == AsnStatus.ACTIVE,
                muted,
            )
        )
        .group_by(*people, *contact)
    )


def _render(
    title: str,
    deadline: datetime,
    urgent: bool,
    locale: str,
    timezone: str | None,
    platforms: tuple[str, ...],
    count: int,
) -> notices.Rendered:
    names = ", ".join(PLATFORM_NAMES.get(p, p) for p in platforms)
    with i18n.use_locale(locale), i18n.use_zone(timezone):
        deadline_text = i18n.format_datetime(deadline, "full")
        context = {
            "asn_name": NAME,
            "campaign_title": title,
            "platform_names": names,
            "count": count,
            "deadline_text": deadline_text,
            "inbox_url": INBOX_LINK,
            "urgent": urgent,
        }
        prefix = _("URGENT: ") if urgent else ""
        subject = prefix + _("Reminder: “%(campaign)s” closes %(deadline)s") % {
            "campaign": title,
            "deadline": i18n.format_datetime(deadline, "short"),
        }
        env = environment()
        text = env.get_template("reminder.txt.j2").render(context)
        html = env.get_template("reminder.html.j2").render(context)
    params = {"1": NAME, "2": title, "3": str(count), "4": deadline_text, "5": INBOX_LINK}
    return notices.Rendered(" ".join(subject.split()), text, html, WHATSAPP_TEMPLATE, params)


def pending_reminders(session: Session, campaign_id: int) -> list[Row[Any]]:
    """The campaign's reminder work items (key, run_at, status), for the console."""
    table = WorkItem.__table__  # type: ignore[attr-defined]
    prefix = f"remind:campaign:{campaign_id}:"
    query = select(table.c.key, table.c.run_at, table.c.status).where(
        table.c.kind == "reminder", table.c.key.startswith(prefix)
    )
    return list(session.connection().execute(query.order_by(table.c.run_at)))
