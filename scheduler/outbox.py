"""The messenger outbox: one row per message, written in the dispatch transaction.

The composition root (``wiring``) registers ``write_outbox`` as a dispatch hook, so a post's
assignment notices exist if and only if its assignments do. Each ASN gets one
message per post listing all their platforms (idempotency key
``post:{post_id}:asn:{asn_id}``); ``scheduler.deliver`` sends them.

The stored text holds ``INBOX_LINK`` where the personal magic link goes: the link is
a sign-in credential, so it is minted at send time (with the ASN's current
login epoch) instead of resting in the database for days.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    String,
    Subquery,
    case,
    cast,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable

from assignments.models import Assignment
from channels.messaging import render_assignment_message
from content.models import Campaign, CampaignKind, Post
from gaung import i18n
from gaung.db import utcnow
from gaung.settings import PLATFORMS
from kernel.limits import LIMITS
from kernel.outbox import (
    INBOX_LINK,
    NAME,
    NO_ADDRESS,
    PERSON_MESSENGERS,
    WHATSAPP_TEMPLATE,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)
from roster.agencies import asn_zone_column
from roster.models import Asn

COLUMNS = (
    "key",
    "assignment_id",
    "campaign_id",
    "kind",
    "priority",
    "asn_id",
    "messenger",
    "recipient",
    "subject",
    "text",
    "html",
    "template",
    "params",
    "status",
    "attempts",
    "run_at",
    "last_error",
    "created_at",
)
_table = OutboxMessage.__table__  # type: ignore[attr-defined]
_assignment = Assignment.__table__  # type: ignore[attr-defined]
_asn = Asn.__table__  # type: ignore[attr-defined]
_post = Post.__table__  # type: ignore[attr-defined]
_campaign = Campaign.__table__  # type: ignore[attr-defined]


def write_outbox(conn: Connection, post_id: int) -> None:
    """Queue one notice per ASN with assignments for the post (dispatch hook).

    Set-based for 100,000 ASN: each (locale, zone, platforms) variant is rendered once in
    Python, then one INSERT ... SELECT per variant fills in the name, address and
    status of every ASN in it, without a round trip per row.
    """
    campaign = conn.execute(
        select(
            _campaign.c.id,
            _campaign.c.title,
            _campaign.c.kind,
            _campaign.c.deadline,
            _post.c.urgent,
        )
        .join(_post, _post.c.campaign_id == _campaign.c.id)
        .where(_post.c.id == post_id)
    ).one()
    renderer = _Renderer(
        campaign.title, campaign.deadline, campaign.kind, campaign.urgent, campaign.id
    )
    grouped = _per_asn(post_id)
    zone = asn_zone_column(_asn)
    variants = conn.execute(
        select(_asn.c.locale, zone, grouped.c.mask)
        .join(grouped, grouped.c.asn_id == _asn.c.id)
        .distinct()
    ).all()
    now = utcnow()
    for locale, timezone, mask in variants:
        platforms = tuple(p for bit, p in enumerate(PLATFORMS) if mask & (1 << bit))
        variant = Variant(locale, timezone, mask, platforms)
        conn.execute(_insert_variant(conn, post_id, grouped, variant, renderer, now))


@dataclass(frozen=True)
class Variant:
    """The ASN who get the same text: one language, one zone (None: the instance's), one
    set of platforms (``mask``, a bit per platform in PLATFORMS order)."""

    locale: str
    timezone: str | None
    mask: int
    platforms: tuple[str, ...]


def _per_asn(post_id: int) -> Subquery:
    """asn_id, first assignment id and platform bit mask of each ASN assigned the post."""
    mask = sum(
        (case((_assignment.c.platform == p, 1 << bit), else_=0) for bit, p in enumerate(PLATFORMS)),
        start=literal(0),
    )
    return (
        select(
            _assignment.c.asn_id,
            func.min(_assignment.c.id).label("first_id"),
            func.sum(mask).label("mask"),
        )
        .where(_assignment.c.post_id == post_id, _assignment.c.asn_id.is_not(None))
        .group_by(_assignment.c.asn_id)
        .subquery("per_asn")
    )


_HTML_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"), ("'", "&#39;"))


def _html_escaped(value: ColumnElement[str]) -> ColumnElement[str]:
    """markupsafe.escape in SQL: & first, then < > " '."""
    for char, entity in _HTML_ENTITIES:
        value = func.replace(value, char, entity)
    return value


def _insert_variant(
    conn: Connection,
    post_id: int,
    grouped: Subquery,
    variant: Variant,
    renderer: _Renderer,
    now: datetime,
) -> Executable:
    subject, text, html, params = renderer.variant(variant)
    recipient = case(
        *((_asn.c.messenger == m, _asn.c[p.address_field]) for m, p in PERSON_MESSENGERS.items()),
        else_=null(),
    )
    known = _asn.c.messenger.in_(list(PERSON_MESSENGERS))
    whatsapp = _asn.c.messenger == "whatsapp"
    key = literal(f"post:{post_id}:asn:") + cast(_asn.c.id, String)
    rows = (
        select(
            key,
            grouped.c.first_id,
            literal(renderer.campaign_id),
            literal(str(OutboxKind.ASSIGNMENT)),
            literal(1 if renderer.urgent else 0),
            _asn.c.id,
            _asn.c.messenger,
            recipient,
            literal(subject),
            func.replace(literal(text), NAME, _asn.c.name),
            func.replace(literal(html), NAME, _html_escaped(_asn.c.name)),
            case((whatsapp, literal(WHATSAPP_TEMPLATE)), else_=null()),
            case((whatsapp, literal(params)), else_=null()),
            case((recipient.is_(None), str(OutboxStatus.FAILED)), else_=str(OutboxStatus.QUEUED)),
            literal(0),
            literal(now, _table.c.run_at.type),
            case((~known, "unknown messenger"), (recipient.is_(None), NO_ADDRESS), else_=null()),
            literal(now, _table.c.created_at.type),
        )
        .join(grouped, grouped.c.asn_id == _asn.c.id)
        .where(_asn.c.locale == variant.locale, grouped.c.mask == variant.mask)
    )
    zone = asn_zone_column(_asn)
    rows = rows.where(zone.is_(None) if variant.timezone is None else zone == variant.timezone)
    if not renderer.urgent:
        # Digest readers get non-urgent news once a day instead (scheduler.digest).
        rows = rows.where(_asn.c.digest.is_(False))
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return insert(_table).from_select(COLUMNS, rows).on_conflict_do_nothing(index_elements=["key"])


class _Renderer:
    """Renders each (locale, zone, platforms) variant once; SQL then fills in each ASN's name.

    Rendering the Jinja templates per ASN would dominate dispatch at 100,000 ASN.
    """

    def __init__(
        self, title: str, deadline: datetime, kind: str, urgent: bool, campaign_id: int
    ) -> None:
        self.title = title
        self.deadline = deadline
        self.urgent = urgent or kind == CampaignKind.HOAX_CLARIFICATION
        self.campaign_id = campaign_id

    def variant(self, variant: Variant) -> tuple[str, str, str, str]:
        """(subject, text, html, WhatsApp params JSON) with NAME and INBOX_LINK placeholders."""
        names = ", ".join(LIMITS[p].name if p in LIMITS else p for p in variant.platforms)
        subject, text, html = render_assignment_message(
            asn_name=NAME,
            campaign_title=self.title,
            platform=names,
            deadline=self.deadline,
            inbox_url=INBOX_LINK,
            urgent=self.urgent,
            locale=variant.locale,
            timezone=variant.timezone,
        )
        with i18n.use_locale(variant.locale):
            deadline_text = i18n.format_datetime(self.deadline, "full", variant.timezone)
        # The name goes in at send time: JSON-escaping it in SQL is not worth the risk.
        params = json.dumps({"1": NAME, "2": self.title, "3": deadline_text, "4": INBOX_LINK})
        return subject, text, html, params
