"""A dispatched post withdrawn: close its open assignments and tell each ASN, in one go.

Registered by ``wiring`` in ``content.workflow.after_withdrawal``, so it runs inside the
transaction that marks the post withdrawn: either the post is withdrawn, its open
assignments are closed and the notices are queued, or none of it happened.

Assignment notices still queued for the post are cancelled, not sent after all.

Open means still to do (pending, or a reported link that was refused); a reported, verified,
declined or expired assignment keeps its status, since it records what the ASN did. Every
ASN assigned the post (except those who left) gets one notice, key
``withdrawn:post:<post>:asn:<asn>``, so running this twice never tells anyone twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from assignments.models import Assignment, AssignmentStatus
from channels.messaging import environment
from content.models import Campaign, Post
from gaung import i18n
from gaung.i18n import gettext as _
from gaung.settings import PLATFORM_NAMES, PLATFORMS
from kernel import notices
from kernel.outbox import INBOX_LINK, NAME, OutboxKind, OutboxMessage, OutboxStatus
from roster.models import Asn, AsnStatus

OPEN = (AssignmentStatus.PENDING, AssignmentStatus.REJECTED)
# WhatsApp template (must be approved): {{1}} name, {{2}} campaign, {{3}} inbox link.
WHATSAPP_TEMPLATE = "gaung_withdrawal"

_assignment = Assignment.__table__  # type: ignore[attr-defined]
_asn = Asn.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
CANCELLED_REASON = "post withdrawn"


def message_key(post_id: int, asn_id: int) -> str:
    return f"withdrawn:post:{post_id}:asn:{asn_id}"


def on_withdrawal(session: Session, post_id: int) -> None:
    """Close the post's open assignments and queue one withdrawal notice per ASN."""
    conn = session.connection()
    conn.execute(
        update(_assignment)
        .where(_assignment.c.post_id == post_id, _assignment.c.status.in_([str(s) for s in OPEN]))
        .values(status=AssignmentStatus.WITHDRAWN)
    )
    _cancel_queued_notices(conn, post_id)
    post = session.get_one(Post, post_id)
    campaign = session.get_one(Campaign, post.campaign_id)
    who: Any = (
        select(
            _asn.c.id,
            _asn.c.name,
            _asn.c.locale,
            _asn.c.messenger,
            _asn.c.email,
            _asn.c.telegram_chat_id,
            _asn.c.phone,
            func.min(_assignment.c.id).label("first_id"),
        )
        .join(_assignment, _assignment.c.asn_id == _asn.c.id)
        .where(_assignment.c.post_id == post_id, _asn.c.status != AsnStatus.LEFT)
        .group_by(
            _asn.c.id,
            _asn.c.name,
            _asn.c.locale,
            _asn.c.messenger,
            _asn.c.email,
            _asn.c.telegram_chat_id,
            _asn.c.phone,
        )
    )
    people = conn.execute(who).all()
    platforms = tuple(p for p in PLATFORMS if p in post.platform_list())
    rendered: dict[str, notices.Rendered] = {}
    rows = []
    for row in people:
        if row.locale not in rendered:
            rendered[row.locale] = _render(campaign.title, platforms, row.locale)
        rows.append(
            notices.message_row(
                notices.Person.from_row(row),
                rendered[row.locale],
                key=message_key(post_id, row.id),
                kind=OutboxKind.WITHDRAWAL,
                campaign_id=campaign.id,
                assignment_id=row.first_id,
                priority=1,  # it undoes a request: it should not arrive after the repost
            )
        )
    notices.queue_rows(conn, rows)


def _cancel_queued_notices(conn: Connection, post_id: int) -> None:
    """An assignment notice not yet sent would ask for a repost the withdrawal takes back."""
    conn.execute(
        update(_outbox)
        .where(
            _outbox.c.key.like(f"post:{post_id}:asn:%"),
            _outbox.c.status == OutboxStatus.QUEUED,
        )
        .values(status=OutboxStatus.CANCELLED, last_error=CANCELLED_REASON)
    )


def _render(title: str, platforms: tuple[str, ...], locale: str) -> notices.Rendered:
    names = ", ".join(PLATFORM_NAMES.get(p, p) for p in platforms)
    with i18n.use_locale(locale):
        context = {
            "asn_name": NAME,
            "campaign_title": title,
            "platform_names": names,
            "inbox_url": INBOX_LINK,
        }
        subject = _("Withdrawn: %(campaign)s") % {"campaign": title}
        env = environment()
        text = env.get_template("withdrawal.txt.j2").render(context)
        html = env.get_template("withdrawal.html.j2").render(context)
    params = {"1": NAME, "2": title, "3": INBOX_LINK}
    return notices.Rendered(" ".join(subject.split()), text, html, WHATSAPP_TEMPLATE, params)
