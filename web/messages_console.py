"""Humas' view of undelivered messages: failed and unknown ones, per campaign and agency-wide.

What Humas can do about each, never automatically:

- *retry* a message that failed only because its attempts ran out on temporary errors
  (provider down, rate limits): the same row is queued again, same idempotency key;
- an *unknown* one (the worker died between sending and recording) may or may not have
  arrived: Humas asks the ASN, then either *marks it sent* or *resends* it, which
  queues a copy under a new key (``resend:<id>``, once) and retires the original.

Permanent failures (blocked bot, invalid number, no address) are listed with an
explanation and what to do (scheduler.delivery_errors; the technical reason stays in a
details element) so Humas can contact the ASN; retrying them cannot help. Every action is
audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from assignments import feedback as feedback_service
from content import workflow
from content.models import Campaign
from content.reminder_hours import hours_for
from gaung.db import get_session, utcnow
from gaung.errors import N_, GaungError, NotFoundError
from gaung.i18n import gettext as _
from kernel import audit
from kernel.outbox import PERSON_MESSENGERS, OutboxKind, OutboxMessage, OutboxStatus
from roster.models import Asn, Role, User
from scheduler import reminders
from scheduler.delivery_errors import Explanation, explain
from web.deps import render, require_role, verify_csrf

router = APIRouter(prefix="/console", include_in_schema=False)

reader = require_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
writer = require_role(Role.EDITOR, Role.APPROVER)

PROBLEMS = (OutboxStatus.FAILED, OutboxStatus.UNKNOWN)
LIST_LIMIT = 200
_table = OutboxMessage.__table__  # type: ignore[attr-defined]
_asn = Asn.__table__  # type: ignore[attr-defined]
_campaign = Campaign.__table__  # type: ignore[attr-defined]
_COPIED = (
    *("asn_id", "messenger", "recipient", "subject", "text", "html", "template", "params"),
    *("assignment_id", "campaign_id", "kind", "priority"),
)


def status_labels() -> dict[str, str]:
    return {
        OutboxStatus.QUEUED: _("Queued"),
        OutboxStatus.SENDING: _("Sending"),
        OutboxStatus.SENT: _("Sent"),
        OutboxStatus.FAILED: _("Failed"),
        OutboxStatus.UNKNOWN: _("Outcome unknown"),
        OutboxStatus.RESENT: _("Resent"),
    }


def kind_labels() -> dict[str, str]:
    return {
        OutboxKind.ASSIGNMENT: _("New assignment"),
        OutboxKind.REMINDER: _("Reminder"),
        OutboxKind.DIGEST: _("Daily digest"),
        OutboxKind.TELEGRAM_LINKED: _("Telegram linked"),
        OutboxKind.WITHDRAWAL: _("Post withdrawn"),
        OutboxKind.FEEDBACK_REPLY: _("Answer to feedback"),
    }


def messenger_labels() -> dict[str, str]:
    """Messenger slugs as people name them ("Surel", not "email")."""
    return {slug: _(spec.label) for slug, spec in PERSON_MESSENGERS.items()}


def explanations(rows: list[Any]) -> dict[int, Explanation]:
    """Each undelivered row's explanation, by outbox id (scheduler.delivery_errors)."""
    found: dict[int, Explanation] = {}
    for row in rows:
        explained = explain(row.last_error, row.messenger, row.status, retryable=row.retryable)
        if explained is not None:
            found[row.id] = explained
    return found


# --- reads ------------------------------------------------------------------------------


def counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Messages about the campaign per status (statuses with none are left out)."""
    query = (
        select(_table.c.status, func.count())
        .where(_table.c.campaign_id == campaign_id)
        .group_by(_table.c.status)
    )
    return {status: int(n) for status, n in session.connection().execute(query)}


def campaign_delivery(session: Session, campaign: Campaign) -> dict[str, Any]:
    """The delivery facts the campaign page shows (see templates/pages/console/_delivery.html)."""
    assert campaign.id is not None
    found = counts(session, campaign.id)
    return {
        "delivery": {
            "reminder_hours": hours_for(campaign.reminder_hours),
            "reminder_default": campaign.reminder_hours is None,
            "counts": found,
            "problems": sum(found.get(s, 0) for s in PROBLEMS),
            "open_feedback": feedback_service.open_count(session, campaign.id),
            "feedback": feedback_service.summary(session, campaign.id).total,
            "status_labels": status_labels(),
        }
    }


def problems(session: Session, user: User, campaign_id: int | None = None) -> tuple[list[Any], int]:
    """Failed and unknown messages of the agency (or one campaign), newest first, and the total."""
    where = [_asn.c.agency_id == user.agency_id, _table.c.status.in_([str(s) for s in PROBLEMS])]
    if campaign_id is not None:
        where.append(_table.c.campaign_id == campaign_id)
    joined = _table.join(_asn, _asn.c.id == _table.c.asn_id)
    conn = session.connection()
    total = conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
    query = (
        select(*_table.c, _asn.c.name.label("asn_name"), _campaign.c.title.label("campaign_title"))
        .select_from(joined.outerjoin(_campaign, _campaign.c.id == _table.c.campaign_id))
        .where(*where)
        .order_by(_table.c.created_at.desc(), _table.c.id.desc())
        .limit(LIST_LIMIT)
    )
    return list(conn.execute(query)), int(total)


def _message(session: Session, user: User, message_id: int) -> OutboxMessage:
    """A message to one of the user's agency's ASN; anyone else's answers 404."""
    message = session.get(OutboxMessage, message_id)
    asn = session.get(Asn, message.asn_id) if message else None
    if message is None or asn is None or asn.agency_id != user.agency_id:
        raise NotFoundError(N_("Message not found."))
    return message


# --- actions ----------------------------------------------------------------------------


def _audit(session: Session, user: User, action: str, message: OutboxMessage, detail: str) -> None:
    audit.record(
        session,
        actor=user,
        action=action,
        entity="outbox_message",
        entity_id=message.id,
        agency_id=user.agency_id,
        detail=detail,
    )


def _flip(
    session: Session, message: OutboxMessage, expected: dict[str, Any], **values: Any
) -> bool:
    """Conditional update: only if the row is still as Humas saw it (no double action)."""
    conditions = [_table.c.id == message.id, *(_table.c[k] == v for k, v in expected.items())]
    changed = session.connection().execute(update(_table).where(*conditions).values(**values))
    return changed.rowcount == 1


def retry(session: Session, user: User, message_id: int) -> OutboxMessage:
    """Queue again a message that failed on temporary errors only. Commits."""
    message = _message(session, user, message_id)
    expected = {"status": OutboxStatus.FAILED, "retryable": True}
    now = utcnow()
    if not _flip(
        session,
        message,
        expected,
        status=OutboxStatus.QUEUED,
        attempts=0,
        run_at=now,
        retryable=False,
        worker=None,
        lease_until=None,
    ):
        raise GaungError(N_("Only a message that failed after temporary errors can be retried."))
    _audit(session, user, "message.retried", message, f"key {message.key}")
    session.commit()
    return message


def mark_sent(session: Session, user: User, message_id: int) -> OutboxMessage:
    """Record that an unknown message did arrive (Humas checked with the ASN). Commits."""
    message = _message(session, user, message_id)
    if not _flip(session, message, {"status": OutboxStatus.UNKNOWN}, status=OutboxStatus.SENT):
        raise GaungError(N_("Only a message whose outcome is unknown can be marked as sent."))
    _audit(session, user, "message.marked_sent", message, f"key {message.key}")
    session.commit()
    return message


def resend_key(message_id: int) -> str:
    return f"resend:{message_id}"


def resend(session: Session, user: User, message_id: int) -> int:
    """Queue a copy of an unknown message under a new key and retire it; the copy's id. Commits.

    The copy still holds the sign-in link placeholder, so it gets a fresh link at send time.
    """
    message = _message(session, user, message_id)
    if not _flip(session, message, {"status": OutboxStatus.UNKNOWN}, status=OutboxStatus.RESENT):
        raise GaungError(N_("Only a message whose outcome is unknown can be resent."))
    now = utcnow()
    values = {name: getattr(message, name) for name in _COPIED}
    values.update(
        key=resend_key(message_id),
        status=OutboxStatus.QUEUED,
        attempts=0,
        run_at=now,
        created_at=now,
        retryable=False,
    )
    new_id = session.connection().execute(insert(_table).values(**values)).inserted_primary_key
    assert new_id is not None
    _audit(session, user, "message.resent", message, f"key {message.key}; copy {new_id[0]}")
    session.commit()
    return int(new_id[0])


# --- pages ------------------------------------------------------------------------------


def _page(request: Request, session: Session, user: User, campaign: Campaign | None) -> Response:
    rows, total = problems(session, user, campaign.id if campaign else None)
    context = {
        "campaign": campaign,
        "rows": rows,
        "total": total,
        "limit": LIST_LIMIT,
        "statuses": status_labels(),
        "kinds": kind_labels(),
        "messengers": messenger_labels(),
        "explained": explanations(rows),
        "can_act": user.role in (Role.EDITOR, Role.APPROVER, Role.ADMIN),
        "flash": request.session.pop("flash", None),
        "reminder_items": (
            reminders.pending_reminders(session, campaign.id) if campaign and campaign.id else []
        ),
    }
    return render(request, "console/messages.html", context)


@router.get("/messages")
def agency_messages(
    request: Request, user: User = Depends(reader), session: Session = Depends(get_session)
) -> Response:
    return _page(request, session, user, None)


@router.get("/campaigns/{campaign_id}/messages")
def campaign_messages(
    request: Request,
    campaign_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, user, workflow.get_campaign(session, user, campaign_id))


def _back(message: OutboxMessage, scope: str) -> RedirectResponse:
    """Back to the list the action was taken from."""
    if scope == "campaign" and message.campaign_id is not None:
        return RedirectResponse(f"/console/campaigns/{message.campaign_id}/messages", 303)
    return RedirectResponse("/console/messages", 303)


def _act(
    request: Request, session: Session, user: User, message_id: int, scope: str, action: str
) -> Response:
    message = _message(session, user, message_id)
    try:
        if action == "retry":
            retry(session, user, message_id)
            note = _("The message is queued again.")
        elif action == "mark-sent":
            mark_sent(session, user, message_id)
            note = _("The message is marked as sent.")
        else:
            resend(session, user, message_id)
            note = _("A new copy of the message is queued.")
    except NotFoundError:
        raise
    except GaungError as exc:
        session.rollback()
        note = exc.render(_)
    request.session["flash"] = note
    return _back(message, scope)


@router.post("/messages/{message_id}/{action}")
def message_action(
    request: Request,
    message_id: int,
    action: str,
    scope: str = Form("agency"),
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    if action not in ("retry", "mark-sent", "resend"):
        raise NotFoundError(N_("Message not found."))
    return _act(request, session, user, message_id, scope, action)
