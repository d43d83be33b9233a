"""Feedback from the public: the ASN passes it on from the inbox, Humas reads it per campaign.

The rules live in assignments.feedback; this module turns forms into calls.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from assignments import feedback as service
from assignments import reporting
from content import workflow
from gaung.db import get_session
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from gaung.i18n import gettext as _
from roster.models import Asn, Role, User
from web.deps import current_asn, render, require_role, verify_csrf
from web.inbox import _render_assignment, outcome_redirect, set_outcome

router = APIRouter(include_in_schema=False)

reader = require_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
handler = require_role(Role.EDITOR, Role.APPROVER)


@router.post("/inbox/{assignment_id}/feedback")
def send_feedback(
    request: Request,
    assignment_id: int,
    text: str = Form(""),
    link: str = Form(""),
    asn: Asn = Depends(current_asn),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    assignment = reporting.get_for_asn(session, asn, assignment_id)  # 404 before anything else
    try:
        service.submit(session, asn, assignment_id, text, link)
    except NotFoundError:
        raise
    except GaungError as exc:
        session.rollback()
        extra = {
            "feedback_text": text,
            "feedback_link": link,
            "feedback_error": exc.render(_),
            "feedback_field": exc.field,
        }
        return _render_assignment(request, session, assignment, extra, status_code=400)
    set_outcome(request, "feedback", _("Thank you! Humas has received what you passed on."))
    return outcome_redirect(assignment_id)


def _feedback_page(
    request: Request,
    session: Session,
    user: User,
    campaign_id: int,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)  # another agency's: 404
    items = service.list_for_campaign(session, user, campaign_id)
    context = {
        "campaign": campaign,
        "items": items,
        "replies": service.replies_for(session, [f.id for f, _ in items if f.id is not None]),
        "summary": service.summary(session, campaign_id),
        "can_handle": user.role in service.HANDLERS,
        # One key per rendered form: sending it twice stores one reply (service.reply).
        "form_key": secrets.token_urlsafe(16),
        "flash": request.session.pop("flash", None),
    }
    context.update(extra or {})
    return render(request, "console/feedback.html", context, status_code=status_code)


@router.get("/console/campaigns/{campaign_id}/feedback")
def campaign_feedback(
    request: Request,
    campaign_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    return _feedback_page(request, session, user, campaign_id)


@router.post("/console/feedback/{feedback_id}/reply")
def feedback_reply(
    request: Request,
    feedback_id: int,
    text: str = Form(""),
    form_key: str = Form(""),
    user: User = Depends(handler),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        answer = service.reply(session, user, feedback_id, text, form_key)
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as exc:
        session.rollback()
        item = session.get_one(service.Feedback, feedback_id)  # found by reply() already
        extra = {
            "reply_to": feedback_id,
            "reply_text": text,
            "reply_error": exc.render(_),
        }
        return _feedback_page(request, session, user, item.campaign_id, extra, 400)
    item = session.get_one(service.Feedback, answer.feedback_id)
    if item.asn_id is None:
        request.session["flash"] = _(
            "The answer is saved. The ASN who passed this on has left Gaung, so it is not sent."
        )
    else:
        request.session["flash"] = _(
            "The answer is saved and sent to the ASN: they see it on their assignment page "
            "and get it through their messenger."
        )
    return RedirectResponse(
        f"/console/campaigns/{item.campaign_id}/feedback#feedback-{item.id}", status_code=303
    )


@router.post("/console/feedback/{feedback_id}/handled")
def feedback_handled(
    request: Request,
    feedback_id: int,
    user: User = Depends(handler),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    item = service.mark_handled(session, user, feedback_id)
    request.session["flash"] = _("Marked as handled.")
    return RedirectResponse(f"/console/campaigns/{item.campaign_id}/feedback", status_code=303)
