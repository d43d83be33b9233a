"""A campaign's "not acted yet" page: per unit, who still has to act, and "send reminder".

Supervisors and Humas (editor, approver, admin) of the campaign's agency see it;
another agency's campaign answers 404. The lists and the sending are
scheduler.manual_reminders; this module lays them out and turns outcomes into one
message for the page. Each rendered form carries a one-off ``request`` token, so a
double submit or a browser retry finds the first answer instead of sending twice.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from content import workflow
from gaung import i18n
from gaung.db import get_session
from gaung.errors import N_, GaungError
from gaung.i18n import gettext as _
from gaung.settings import PLATFORM_NAMES
from kernel.outbox import PERSON_MESSENGERS
from roster import agencies
from roster.models import Role, User
from scheduler import manual_reminders
from scheduler.manual_reminders import Outcome, Result
from web.deps import render, require_role, verify_csrf

router = APIRouter(prefix="/dashboard", include_in_schema=False)
# Supervisors and Humas alike (admins always pass).
staff = require_role(Role.SUPERVISOR, Role.EDITOR, Role.APPROVER)
# Shown per unit; the reminder still goes to everyone in it.
SHOWN_PER_UNIT = 300
_REQUEST = re.compile(r"[A-Za-z0-9_-]{16,64}")


def messenger_label(slug: str) -> str:
    spec = PERSON_MESSENGERS.get(slug)
    return _(spec.label) if spec else slug


def outcome_text(outcome: Outcome, zone: str) -> str:
    """One unit's outcome as a sentence for the page (in the reader's language and zone)."""
    recent, muted = manual_reminders.intervals()[1], outcome.skipped_muted
    hours = int(recent.total_seconds() // 3600)
    unit = outcome.unit
    if outcome.result == Result.NOBODY:
        return _("%(unit)s: nobody still has to act; nothing was sent.") % {"unit": unit}
    if outcome.result == Result.TOO_SOON:
        assert outcome.next_at is not None
        when = i18n.format_datetime(outcome.next_at, "short", zone)
        interval = int(manual_reminders.intervals()[0].total_seconds() // 3600)
        return _(
            "%(unit)s was reminded by hand less than %(hours)s hours ago; the next reminder "
            "is possible from %(time)s."
        ) % {"unit": unit, "hours": interval, "time": when}
    if outcome.result == Result.REPLAYED:
        text = _(
            "%(unit)s: this reminder was already sent (%(queued)s queued); nothing was sent twice."
        )
        return text % {"unit": unit, "queued": i18n.format_number(outcome.queued)}
    if outcome.result == Result.SENT:
        parts = [
            _("%(unit)s: reminders queued: %(queued)s.")
            % {"unit": unit, "queued": i18n.format_number(outcome.queued)}
        ]
    else:
        parts = [_("%(unit)s: nobody was reminded.") % {"unit": unit}]
    if outcome.skipped_recent:
        text = _(
            "Skipped %(count)s: they got the assignment notice or a reminder less than "
            "%(hours)s hours ago."
        )
        parts.append(text % {"count": i18n.format_number(outcome.skipped_recent), "hours": hours})
    if muted:
        text = _("Skipped %(count)s: they turned reminders off.")
        parts.append(text % {"count": i18n.format_number(muted)})
    return " ".join(parts)


@router.get("/campaigns/{campaign_id:int}/not-acted")
def not_acted_page(
    request: Request,
    campaign_id: int,
    user: User = Depends(staff),
    session: Session = Depends(get_session),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    units = manual_reminders.not_acted(session, campaign)
    interval, recent = manual_reminders.intervals()
    context: dict[str, Any] = {
        "campaign": campaign,
        "units": units,
        "total": sum(len(u.people) for u in units),
        # People in the units that can be reminded by hand now ("all" skips the others).
        "ready_total": sum(len(u.people) for u in units if u.next_manual_at is None),
        "all_ready": all(u.next_manual_at is None for u in units),
        "shown_per_unit": SHOWN_PER_UNIT,
        "interval_hours": int(interval.total_seconds() // 3600),
        "recent_hours": int(recent.total_seconds() // 3600),
        "platform_names": PLATFORM_NAMES,
        "messenger_label": messenger_label,
        # One-off token per rendered page: the same click sent twice is done once.
        "request_token": secrets.token_urlsafe(24),
        "flash": request.session.pop("flash", None),
    }
    return render(request, "dashboard/not_acted.html", context)


@router.post("/campaigns/{campaign_id:int}/not-acted/remind")
async def send_reminder(
    request: Request,
    campaign_id: int,
    user: User = Depends(staff),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    form = await request.form()
    token = str(form.get("request") or "")
    if not _REQUEST.fullmatch(token):
        raise GaungError(N_("The form is out of date; open the page again and retry."))
    unit = str(form.get("unit") or "").strip()
    if unit != "all" and not unit.isdigit():
        raise GaungError(N_("Choose a unit or all units."), field="unit")
    unit_id = None if unit == "all" else int(unit)
    outcomes = manual_reminders.remind(session, user, campaign, token, unit_id)
    zone = agencies.reader_zone(session, user.agency_id)
    if outcomes:
        message = " ".join(outcome_text(o, zone) for o in outcomes)
    else:
        message = _("Nobody still has to act; nothing was sent.")
    request.session["flash"] = message
    return RedirectResponse(f"/dashboard/campaigns/{campaign_id}/not-acted", status_code=303)
