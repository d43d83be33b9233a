"""Feedback from the public: the ASN passes it on from the inbox, Humas reads it per campaign.

The rules live in assignments.feedback; this module turns forms into calls.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from assignments import feedback as service
from assignments import reporting
from content import workflow
from gaung.db import get_session
from gaung.errors import GaungError, NotFoundError
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


@router.get("/console/campaigns/{campaign_id}/feedback")
def campaign_feedback(
    request: Request,
    campaign_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    items = service.list_for_campaign(session, user, campaign_id)
    context = {
        "campaign": campaign,
        "items": items,
        "can_handle": user.role in service.HANDLERS,
        "flash": request.session.pop("flash", None),
    }
    return render(request, "console/feedback.html", context)


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
