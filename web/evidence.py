"""Staff view of a campaign's assignments: state, reason, and every piece of evidence.

Each assignment shows which check saw what, when, with the platform's post id and URL, its
metrics snapshots, and its account's follower count with the date it was counted. Humas can
ask for a fresh follower count per account; the button queues a job (scheduler.followers),
the platform is never called inside the request. Another agency's campaign or account answers
404 like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from assignments.evidence import REASON_LABELS, Check, Evidence, Outcome, Reason
from assignments.metrics import SPANS, RepostMetrics
from assignments.models import Assignment, AssignmentStatus
from content import workflow
from gaung.db import get_session
from gaung.errors import N_, NotFoundError
from gaung.i18n import gettext as _
from gaung.settings import PLATFORM_NAMES
from kernel import audit
from roster.models import Asn, Role, SocialAccount, Unit, User
from scheduler.followers import request_refresh
from web.auth import safe_next
from web.deps import render, require_role, verify_csrf

router = APIRouter(prefix="/console", include_in_schema=False)
reader = require_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)  # admin is always allowed
humas = require_role(Role.EDITOR, Role.APPROVER)

PAGE_SIZE = 50

STATUS_LABELS = {
    AssignmentStatus.PENDING: N_("Pending"),
    AssignmentStatus.REPORTED: N_("Reported, not verified yet"),
    AssignmentStatus.VERIFIED: N_("Verified"),
    AssignmentStatus.REJECTED: N_("Rejected by verification"),
    AssignmentStatus.DECLINED: N_("Declined by the ASN"),
    AssignmentStatus.EXPIRED: N_("Expired"),
    AssignmentStatus.WITHDRAWN: N_("Withdrawn by Humas"),
}
STATUS_CLASSES = {
    AssignmentStatus.VERIFIED: "good",
    AssignmentStatus.REPORTED: "warn",
    AssignmentStatus.REJECTED: "bad",
    AssignmentStatus.EXPIRED: "bad",
}
CHECK_LABELS = {
    Check.X_SEARCH: N_("X repost search"),
    Check.X_LOOKUP: N_("X post lookup"),
    Check.X_OEMBED: N_("X embed (no API key)"),
    Check.FACEBOOK_GRAPH: N_("Facebook Graph API"),
    Check.INSTAGRAM_GRAPH: N_("Instagram Graph API"),
}
OUTCOME_LABELS = {
    Outcome.VERIFIED: N_("Seen: verified"),
    Outcome.REJECTED: N_("Seen: rejected"),
    Outcome.GONE: N_("Deleted"),
    Outcome.UNVERIFIABLE: N_("Could not be checked"),
    Outcome.ERROR: N_("Check failed"),
}
EXTRA_REASONS = {
    Reason.NOT_CONNECTED: N_("The platform is not connected"),
    Reason.NOT_SUPPORTED: N_("The platform does not allow this check"),
    Reason.AUTH: N_("The access token is expired or invalid"),
    Reason.NO_LINK_OR_HASHTAG: N_(
        "Neither the tracking link nor a campaign hashtag is in the post"
    ),
}


def _label(labels: dict[Any, str], value: str | None) -> str:
    if not value:
        return ""
    return _(labels[value]) if value in labels else value


def reason_label(value: str | None) -> str:
    return _label({**REASON_LABELS, **EXTRA_REASONS}, value)


@dataclass
class Row:
    assignment: Assignment
    asn_name: str
    unit: str
    account: SocialAccount | None
    evidence: list[Evidence] = field(default_factory=list)
    metrics: list[RepostMetrics] = field(default_factory=list)


def _filters(campaign_id: int, status: str, platform: str) -> list[Any]:
    where: list[Any] = [col(Assignment.campaign_id) == campaign_id]
    if status in STATUS_LABELS:
        where.append(col(Assignment.status) == status)
    if platform in PLATFORM_NAMES:
        where.append(col(Assignment.platform) == platform)
    return where


def _rows(session: Session, where: list[Any], page: int) -> list[Row]:
    query = (
        select(Assignment, Asn.name, Unit.name, SocialAccount)
        .join(Unit, col(Unit.id) == col(Assignment.unit_id))
        .outerjoin(Asn, col(Asn.id) == col(Assignment.asn_id))
        .outerjoin(SocialAccount, col(SocialAccount.id) == col(Assignment.account_id))
        .where(*where)
        .order_by(col(Assignment.id))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    rows = {
        a.id: Row(a, name or "—", unit, account) for a, name, unit, account in session.exec(query)
    }
    if rows:
        ids = list(rows)
        found = select(Evidence).where(col(Evidence.assignment_id).in_(ids))
        for evidence in session.exec(found.order_by(col(Evidence.seen_at), col(Evidence.id))):
            rows[evidence.assignment_id].evidence.append(evidence)
        order = list(SPANS)
        measured = select(RepostMetrics).where(col(RepostMetrics.assignment_id).in_(ids))
        for snapshot in sorted(session.exec(measured), key=lambda m: order.index(m.window)):
            rows[snapshot.assignment_id].metrics.append(snapshot)
    return list(rows.values())


def _status_counts(session: Session, campaign_id: int) -> dict[str, int]:
    query = (
        select(Assignment.status, func.count())
        .where(Assignment.campaign_id == campaign_id)
        .group_by(col(Assignment.status))
    )
    return {status: int(count) for status, count in session.exec(query)}


@router.get("/campaigns/{campaign_id:int}/assignments")
def campaign_assignments(
    request: Request,
    campaign_id: int,
    status: str = "",
    platform: str = "",
    page: int = 1,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    page = max(page, 1)
    where = _filters(campaign_id, status, platform)
    total = session.exec(select(func.count()).select_from(Assignment).where(*where)).one()
    context = {
        "campaign": campaign,
        "rows": _rows(session, where, page),
        "counts": _status_counts(session, campaign_id),
        "status": status if status in STATUS_LABELS else "",
        "platform": platform if platform in PLATFORM_NAMES else "",
        "page": page,
        "has_next": page * PAGE_SIZE < total,
        "total": total,
        "statuses": {k: _(v) for k, v in STATUS_LABELS.items()},
        "status_classes": STATUS_CLASSES,
        "platform_names": PLATFORM_NAMES,
        "checks": {k: _(v) for k, v in CHECK_LABELS.items()},
        "outcomes": {k: _(v) for k, v in OUTCOME_LABELS.items()},
        "reason_label": reason_label,
        "can_refresh": user.role in (Role.ADMIN, Role.EDITOR, Role.APPROVER),
        "flash": request.session.pop("flash", None),
    }
    return render(request, "console/assignments.html", context)


@router.post("/accounts/{account_id:int}/refresh-followers")
async def refresh_followers(
    request: Request,
    account_id: int,
    user: User = Depends(humas),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    """Queue a fresh follower count of one enrolled account of the user's agency."""
    account = session.get(SocialAccount, account_id)
    asn = session.get(Asn, account.asn_id) if account else None
    if account is None or asn is None or asn.agency_id != user.agency_id:
        raise NotFoundError(N_("Account not found."))
    request_refresh(session, account)
    audit.record(
        session,
        actor=user,
        action="account.followers_refresh_requested",
        entity="social_account",
        entity_id=account.id,
        agency_id=user.agency_id,
        detail=f"platform={account.platform}",
    )
    session.commit()
    request.session["flash"] = _("The follower count will be refreshed in a moment.")
    form = await request.form()
    target = safe_next(form.get("next"), "/console")
    return RedirectResponse(target, status_code=303)
