"""The ASN's mobile inbox: their assignments, one-tap sharing, reporting the repost link.

Everything works without JavaScript; the script only adds copy and Web Share
conveniences. Every look-up goes through assignments.reporting, which answers a
foreign assignment id exactly like a missing one (404).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from assignments import feedback, reporting
from assignments.evidence import Reason
from assignments.models import Assignment, AssignmentStatus
from assignments.sharing import share_links
from assignments.texts import assignment_text
from content.models import Campaign, Post
from content.rendering import measure
from gaung import i18n
from gaung.db import get_session
from gaung.errors import N_, GaungError
from gaung.settings import PLATFORM_NAMES
from kernel.limits import LIMITS
from roster.models import Asn
from web import eligibility_notice
from web.deps import current_asn, render, verify_csrf
from web.inbox_settings import undelivered_notice
from web.leaderboard import inbox_card

router = APIRouter(prefix="/inbox", include_in_schema=False)

STATUS_LABELS: dict[str, str] = {
    AssignmentStatus.PENDING: N_("To do"),
    AssignmentStatus.REPORTED: N_("Reported"),
    AssignmentStatus.VERIFIED: N_("Verified"),
    AssignmentStatus.REJECTED: N_("Not verified"),
    # Not "Declined" (Ditolak), Humas's word for rejecting a draft: this was the ASN's own choice.
    AssignmentStatus.DECLINED: N_("Declined by you"),
    AssignmentStatus.EXPIRED: N_("Expired"),
    AssignmentStatus.WITHDRAWN: N_("Withdrawn by Humas"),
}
# Why a reported link was not verified, said to the ASN with what to do about it.
UNVERIFIED_REASONS: dict[str, str] = {
    Reason.DELETED: N_("Your repost was deleted, so it could not be verified."),
    Reason.WRONG_AUTHOR: N_(
        "The link is from another account, not the one you enrolled for this platform."
    ),
    Reason.NOT_A_REPOST: N_("The post does not repost, quote or share the campaign post."),
    Reason.NO_LINK_OR_HASHTAG: N_(
        "Your post has neither your personal link nor a campaign hashtag."
    ),
}
# Statuses in which the ASN can still act (report a link, or decline).
_ACTIONABLE = {AssignmentStatus.PENDING, AssignmentStatus.REJECTED}
_FLASH_KEY = "inbox_flash"
_OUTCOME_KEY = "inbox_outcome"
# Where an outcome is shown: next to the form that was used (report, decline, feedback). The
# redirect carries OUTCOME_ANCHOR so the page opens at the message even without JavaScript;
# with it, web/static/inbox.js moves focus to the element marked data-focus.
OUTCOME_ANCHOR = "outcome"
OUTCOME_PLACES = ("report", "decline", "feedback")


def set_outcome(request: Request, place: str, message: str) -> None:
    """Remember an outcome for the next page view, shown at ``place`` (OUTCOME_PLACES)."""
    request.session[_OUTCOME_KEY] = {"at": place, "text": message}


def outcome_redirect(assignment_id: int) -> RedirectResponse:
    return RedirectResponse(f"/inbox/{assignment_id}#{OUTCOME_ANCHOR}", status_code=303)


def unverified_reason(assignment: Assignment) -> str:
    """Why the assignment is not verified (status rejected), in the reader's language."""
    reason = UNVERIFIED_REASONS.get(assignment.rejection_reason or "")
    if reason is None:
        reason = N_("We could not confirm your repost.")
    return i18n.gettext(reason)


def status_label(status: str) -> str:
    return i18n.gettext(STATUS_LABELS.get(status, status))


def ordered(assignments: list[Assignment]) -> list[Assignment]:
    """Ones needing action first (soonest deadline first), then the rest as given (newest)."""
    todo = sorted((a for a in assignments if a.status in _ACTIONABLE), key=lambda a: a.deadline)
    done = [a for a in assignments if a.status not in _ACTIONABLE]
    return todo + done


@router.get("")
def inbox(
    request: Request, asn: Asn = Depends(current_asn), session: Session = Depends(get_session)
) -> Response:
    assignments = ordered(reporting.list_for_asn(session, asn))
    context = {
        "assignments": assignments,
        "titles": _campaign_titles(session, assignments),
        "platform_names": PLATFORM_NAMES,
        "status_label": status_label,
        "actionable": _ACTIONABLE,
        "eligibility": eligibility_notice.for_asn(session, asn),  # inbox/_eligibility.html
        "leaderboard": inbox_card(session, asn),  # inbox/_standing.html
        "undelivered": undelivered_notice(session, asn),  # fixed in the message settings
    }
    return render(request, "inbox/list.html", context)


def _campaign_titles(session: Session, assignments: list[Assignment]) -> dict[int, str]:
    titles: dict[int, str] = {}
    for campaign_id in {a.campaign_id for a in assignments}:
        campaign = session.get(Campaign, campaign_id)
        titles[campaign_id] = campaign.title if campaign else ""
    return titles


@router.get("/{assignment_id}")
def assignment_page(
    request: Request,
    assignment_id: int,
    asn: Asn = Depends(current_asn),
    session: Session = Depends(get_session),
) -> Response:
    assignment = reporting.get_for_asn(session, asn, assignment_id)
    extra: dict[str, Any] = {"flash": request.session.pop(_FLASH_KEY, None)}
    outcome = request.session.pop(_OUTCOME_KEY, None)
    if isinstance(outcome, dict) and outcome.get("at") in OUTCOME_PLACES:
        extra |= {"outcome": str(outcome.get("text", "")), "outcome_at": outcome["at"]}
    return _render_assignment(request, session, assignment, extra)


def _render_assignment(
    request: Request,
    session: Session,
    assignment: Assignment,
    extra: dict[str, Any],
    status_code: int = 200,
) -> Response:
    post = session.get(Post, assignment.post_id)
    campaign = session.get(Campaign, assignment.campaign_id)
    # Foreign keys guarantee both rows exist.
    assert post is not None
    assert campaign is not None
    links = share_links(assignment, post, assignment_text(session, assignment, post))
    limits = LIMITS.get(assignment.platform)
    context: dict[str, Any] = {
        "assignment": assignment,
        "campaign": campaign,
        "links": links,
        # For the "add your own words" counter (static/inbox.js): the text's length as the
        # platform counts it (X: weighted, by twitter-text) and the platform's limit.
        "text_length": measure(assignment.platform, links.text) if limits else len(links.text),
        "text_limit": limits.max_chars if limits else 0,
        "text_weighted": bool(limits and limits.weighted),
        "platform_name": PLATFORM_NAMES.get(assignment.platform, assignment.platform),
        "status_label": status_label(assignment.status),
        "can_report": assignment.status in (*_ACTIONABLE, AssignmentStatus.REPORTED),
        "can_decline": assignment.status in _ACTIONABLE,
        "repost_url": assignment.repost_url or "",
        "reason": "",
        "unverified_reason": (
            unverified_reason(assignment) if assignment.status == AssignmentStatus.REJECTED else ""
        ),
        "outcome": "",
        "outcome_at": "",
        "outcome_anchor": OUTCOME_ANCHOR,
        # What the ASN passed on about this assignment, with Humas' answers.
        "feedback_thread": feedback.thread_for_asn(session, assignment.asn_id, assignment.id or 0),
    }
    context.update(extra)
    return render(request, "inbox/assignment.html", context, status_code=status_code)


@router.post("/{assignment_id}/report")
def report(
    request: Request,
    assignment_id: int,
    repost_url: str = Form(""),
    asn: Asn = Depends(current_asn),
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    assignment = reporting.get_for_asn(session, asn, assignment_id)  # 404 before anything else
    try:
        reporting.report_repost(session, asn, assignment_id, repost_url)
    except GaungError as exc:
        extra = {"repost_url": repost_url, "report_error": exc.render(i18n.gettext)}
        return _render_assignment(request, session, assignment, extra, status_code=400)
    set_outcome(request, "report", i18n.gettext("Thank you! Your repost link has been recorded."))
    return outcome_redirect(assignment_id)


@router.post("/{assignment_id}/decline")
def decline(
    request: Request,
    assignment_id: int,
    reason: str = Form(""),
    asn: Asn = Depends(current_asn),
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    assignment = reporting.get_for_asn(session, asn, assignment_id)
    try:
        reporting.decline(session, asn, assignment_id, reason)
    except GaungError as exc:
        extra = {"reason": reason, "decline_error": exc.render(i18n.gettext)}
        return _render_assignment(request, session, assignment, extra, status_code=400)
    set_outcome(request, "decline", i18n.gettext("You declined this assignment."))
    return outcome_redirect(assignment_id)
