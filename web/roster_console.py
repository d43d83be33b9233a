"""The console's people pages: ASN list and review, invitation links, roster CSV upload.

Editors and approvers (and admins) act; supervisors read. Every rule lives in roster
(invitations, review, sign_in, listing, ownership, importer); this module turns forms into
calls and errors back into pages. Another agency's ids answer 404 like missing ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, func, or_, select
from starlette.datastructures import UploadFile

from gaung import i18n
from gaung.db import get_session, utcnow
from gaung.errors import N_, GaungError, NotFoundError
from kernel import audit
from kernel.audit import AuditLog
from kernel.limits import display_name
from roster import eligibility as eligible
from roster import humas, listing, ownership, review, sign_in
from roster import invitations as invitation_links  # the routes below are named invitations
from roster.enrolment import CONSENT_VERSION
from roster.importer import (
    COLUMNS,
    TEMPLATE_NAME,
    RosterImportError,
    import_roster,
    template_csv,
)
from roster.models import Agency, Asn, AsnStatus, Invitation, Role, SocialAccount, Unit, User
from web.deps import render, require_role, verify_csrf
from web.enrol import STATUS_LABELS

router = APIRouter(prefix="/console", include_in_schema=False)

manager = require_role(Role.EDITOR, Role.APPROVER)
reader = require_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
MAX_CSV_BYTES = 5 * 1024 * 1024
STATUS_CLASSES = {
    AsnStatus.PENDING: "warn",
    AsnStatus.ACTIVE: "good",
    AsnStatus.REJECTED: "bad",
    AsnStatus.SUSPENDED: "bad",
    AsnStatus.LEFT: "muted",
}
STANDING_TEXTS = {
    eligible.Standing.NO_CONSENT: N_("no consent recorded"),
    eligible.Standing.NOT_VERIFIED: N_("ownership not verified"),
    eligible.Standing.NO_COUNT: N_("no follower count yet"),
}
_ = i18n.gettext


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    base = {
        "status_labels": {k: _(v) for k, v in STATUS_LABELS.items()},
        "status_classes": STATUS_CLASSES,
        "flash": request.session.pop("flash", None),
    }
    return render(request, f"roster/{name}", {**base, **context}, status_code=status_code)


def _back(request: Request, url: str, message: str) -> RedirectResponse:
    request.session["flash"] = message
    return RedirectResponse(url, status_code=303)


def _units(session: Session, agency_id: int) -> list[Unit]:
    query = select(Unit).where(Unit.agency_id == agency_id).order_by(col(Unit.name))
    return list(session.exec(query))


# --- ASN list and review ----------------------------------------------------------------


@router.get("/asn")
def asn_list(
    request: Request,
    status: str = "",
    unit: str = "",
    q: str = "",
    page: int = 1,
    eligibility: str = "",
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    status = status if status in STATUS_LABELS else ""
    unit_id = int(unit) if unit.isdigit() else None
    not_eligible = eligibility == "not"
    result = listing.list_asn(
        session,
        user.agency_id,
        status=status or None,
        unit_id=unit_id,
        search=q,
        page=page,
        not_eligible=not_eligible,
    )
    ids = [a.id for a in result.people if a.id is not None]
    found = eligible.standings(session, agency_id=user.agency_id, asn_ids=ids)
    active = {a.id for a in result.people if a.status == AsnStatus.ACTIVE}
    context = {
        "result": result,
        "accounts": listing.accounts_of(session, ids),
        # Why an active person's account gets nothing (none for pending people: not yet).
        "reasons": {
            account_id: standing_text(standing)
            for account_id, standing in found.items()
            if standing.asn_id in active and standing.standing in eligible.NOT_ELIGIBLE
        },
        "units": {u.id: u.name for u in _units(session, user.agency_id)},
        "counts": listing.status_counts(session, user.agency_id),
        "not_eligible_count": listing.not_eligible_count(session, user.agency_id),
        "filters": {
            "status": status,
            "unit": unit_id,
            "q": q,
            "eligibility": "not" if not_eligible else "",
        },
        "platform_names": {p: display_name(p) for p in ("x", "facebook", "instagram")},
    }
    return _page(request, "list.html", context)


def standing_text(standing: eligible.AccountStanding) -> str:
    """Why the account gets no assignments, for Humas (the console's "not eligible" list)."""
    if standing.standing == eligible.Standing.BELOW_MINIMUM:
        return _("below the minimum: %(count)s of %(minimum)s followers") % {
            "count": i18n.format_number(standing.followers),
            "minimum": i18n.format_number(standing.minimum),
        }
    return _(STANDING_TEXTS.get(standing.standing, standing.standing))


def _review_context(session: Session, user: User, asn: Asn) -> dict[str, Any]:
    accounts = listing.accounts_of(session, [asn.id or 0])[asn.id or 0]
    account_ids = [a.id for a in accounts if a.id is not None]
    checks = ownership.checks_for(session, account_ids)
    entries = session.exec(
        select(AuditLog)
        .where(AuditLog.agency_id == user.agency_id)
        .where(
            or_(
                (col(AuditLog.entity) == "asn") & (col(AuditLog.entity_id) == asn.id),
                (col(AuditLog.entity) == "social_account")
                & col(AuditLog.entity_id).in_(account_ids or [-1]),
            )
        )
        .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
        .limit(50)
    ).all()
    unit = session.get(Unit, asn.unit_id)
    invitation = session.get(Invitation, asn.invitation_id) if asn.invitation_id else None
    minimums = eligible.minimums(session.get(Agency, user.agency_id))
    return {
        "asn": asn,
        "unit": unit,
        "invitation": invitation,
        "accounts": [
            {
                "account": a,
                "name": display_name(a.platform),
                "check": checks.get(a.id or 0),
                "detail": _detail(checks.get(a.id or 0), a.platform),
                "minimum": minimums.get(a.platform, 0),
            }
            for a in accounts
        ],
        "entries": entries,
        "can_act": user.role in (Role.EDITOR, Role.APPROVER, Role.ADMIN),
        "reason": "",
        "reason_error": None,
        "action": None,
    }


def _detail(check: Any, platform: str) -> str:
    if check is None or not check.detail:
        return ""
    return _(check.detail) % {"platform": display_name(platform)}


@router.get("/asn/{asn_id}")
def asn_review(
    request: Request,
    asn_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    asn = humas.get_asn(session, user, asn_id)
    return _page(request, "review.html", _review_context(session, user, asn))


def _decision(
    request: Request, session: Session, user: User, asn_id: int, action: str, reason: str = ""
) -> Response:
    done: dict[str, tuple[Callable[[], Asn], str]] = {
        "approve": (lambda: review.approve(session, user, asn_id), N_("Enrolment approved.")),
        "reject": (
            lambda: review.reject(session, user, asn_id, reason),
            N_("Enrolment rejected."),
        ),
        "suspend": (lambda: review.suspend(session, user, asn_id, reason), N_("ASN suspended.")),
        "reactivate": (
            lambda: review.reactivate(session, user, asn_id),
            N_("ASN re-activated."),
        ),
    }
    call, message = done[action]
    try:
        call()
    except NotFoundError:
        raise
    except GaungError as exc:
        session.rollback()
        asn = humas.get_asn(session, user, asn_id)
        context = _review_context(session, user, asn)
        if exc.field == "reason":
            context.update(reason=reason, reason_error=exc.render(_), action=action)
        else:
            context["error"] = exc.render(_)
        return _page(request, "review.html", context, status_code=400)
    return _back(request, f"/console/asn/{asn_id}", _(message))


@router.post("/asn/{asn_id}/approve")
def approve(
    request: Request,
    asn_id: int,
    user: User = Depends(manager),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    return _decision(request, session, user, asn_id, "approve")


@router.post("/asn/{asn_id}/reject")
def reject(
    request: Request,
    asn_id: int,
    reason: str = Form(""),
    user: User = Depends(manager),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    return _decision(request, session, user, asn_id, "reject", reason)


@router.post("/asn/{asn_id}/suspend")
def suspend(
    request: Request,
    asn_id: int,
    reason: str = Form(""),
    user: User = Depends(manager),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    return _decision(request, session, user, asn_id, "suspend", reason)


@router.post("/asn/{asn_id}/reactivate")
def reactivate(
    request: Request,
    asn_id: int,
    user: User = Depends(manager),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    return _decision(request, session, user, asn_id, "reactivate")


@router.post("/asn/{asn_id}/sign-in-link")
def sign_in_link(
    request: Request,
    asn_id: int,
    user: User = Depends(manager),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        sent = sign_in.send_sign_in_link(session, user, asn_id)
    except NotFoundError:
        raise
    except GaungError as exc:
        return _back(request, f"/console/asn/{asn_id}", exc.render(_))
    message = (
        _("The sign-in link is on its way.")
        if sent
        else _("A sign-in link was already sent today.")
    )
    return _back(request, f"/console/asn/{asn_id}", message)


@router.post("/asn/{asn_id}/revoke-sign-in")
def revoke_sign_in(
    request: Request,
    asn_id: int,
    user: User = Depends(manager),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        sign_in.revoke_sign_in(session, user, asn_id)
    except NotFoundError:
        raise
    except GaungError as exc:
        return _back(request, f"/console/asn/{asn_id}", exc.render(_))
    message = _(
        "Every sign-in link sent so far and every open inbox session of this person has "
        "ended. Send a new sign-in link when they are ready."
    )
    return _back(request, f"/console/asn/{asn_id}", message)


@router.post("/accounts/{account_id}/confirm")
def confirm_account(
    request: Request,
    account_id: int,
    followers: str = Form(""),
    user_id: str = Form(""),
    user: User = Depends(manager),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    count = followers.strip().replace(".", "").replace(",", "")
    try:
        if count and not count.isdigit():
            raise GaungError(N_("Followers must be a whole number of zero or more."))
        account = ownership.confirm_manually(
            session, user, account_id, followers=int(count) if count else None, user_id=user_id
        )
    except NotFoundError:
        raise
    except GaungError as exc:
        session.rollback()
        owner = _owner_of(session, user, account_id)
        return _back(request, f"/console/asn/{owner}", exc.render(_))
    return _back(request, f"/console/asn/{account.asn_id}", _("Ownership confirmed."))


def _owner_of(session: Session, user: User, account_id: int) -> int:
    account = session.get(SocialAccount, account_id)
    asn = session.get(Asn, account.asn_id) if account else None
    if asn is None or asn.agency_id != user.agency_id:
        raise NotFoundError(N_("This account does not exist."))
    return asn.id or 0


# --- invitations ------------------------------------------------------------------------


def _invitations_page(
    request: Request,
    session: Session,
    user: User,
    values: dict[str, Any] | None = None,
    error: GaungError | None = None,
) -> Response:
    found = invitation_links.list_invitations(session, user.agency_id)
    counts = dict(
        session.exec(
            select(Asn.invitation_id, func.count())
            .where(Asn.agency_id == user.agency_id, col(Asn.invitation_id).is_not(None))
            .group_by(col(Asn.invitation_id))
        ).all()
    )
    context = {
        "invitations": [
            {
                "invitation": i,
                "url": invitation_links.invitation_url(i),
                "open": invitation_links.is_open(i),
                "enrolled": counts.get(i.id, 0),
            }
            for i in found
        ],
        "units": _units(session, user.agency_id),
        "values": values or {"unit_id": None, "label": "", "valid_days": ""},
        "error": error.render(_) if error else None,
        "error_field": error.field if error else None,
        "now": utcnow(),
    }
    return _page(request, "invitations.html", context, status_code=400 if error else 200)


@router.get("/invitations")
def invitations(
    request: Request, user: User = Depends(manager), session: Session = Depends(get_session)
) -> Response:
    return _invitations_page(request, session, user)


@router.post("/invitations")
def create_invitation(
    request: Request,
    unit_id: str = Form(""),
    label: str = Form(""),
    valid_days: str = Form(""),
    user: User = Depends(manager),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    unit = int(unit_id) if unit_id.isdigit() else None
    values: dict[str, Any] = {"unit_id": unit, "label": label, "valid_days": valid_days}
    try:
        days = valid_days.strip()
        if days and not days.isdigit():
            raise GaungError(
                N_("Valid for 1 to %(limit)s days, or leave it empty for no expiry."),
                field="valid_days",
                limit=invitation_links.INVITATION_MAX_DAYS,
            )
        invitation_links.create_invitation(
            session,
            user,
            unit_id=unit,
            label=label,
            valid_days=int(days) if days else None,
        )
    except GaungError as exc:
        session.rollback()
        return _invitations_page(request, session, user, values, exc)
    return _back(request, "/console/invitations", _("Invitation link created."))


@router.post("/invitations/{invitation_id}/revoke")
def revoke_invitation(
    request: Request,
    invitation_id: int,
    user: User = Depends(manager),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    invitation_links.revoke_invitation(session, user, invitation_id)
    return _back(request, "/console/invitations", _("Invitation link revoked."))


# --- roster upload ----------------------------------------------------------------------


@router.get("/roster/upload")
def upload_page(request: Request, user: User = Depends(manager)) -> Response:
    return _page(request, "upload.html", _upload_context(create_units=False))


def _upload_context(*, create_units: bool) -> dict[str, Any]:
    return {
        "columns": COLUMNS,
        "result": None,
        "errors": [],
        "create_units": create_units,
        "consent_version": CONSENT_VERSION,
    }


@router.get("/roster/template.csv")
def upload_template(user: User = Depends(manager)) -> Response:
    """The empty roster CSV for Excel: ``;`` separated, UTF-8 with a BOM."""
    return Response(
        template_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{TEMPLATE_NAME}"'},
    )


@router.post("/roster/upload")
async def upload(
    request: Request,
    user: User = Depends(manager),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    file = form.get("file")
    create_units = form.get("create_units") == "1"
    context = _upload_context(create_units=create_units)
    data = await file.read(MAX_CSV_BYTES + 1) if isinstance(file, UploadFile) else b""
    if not data:
        context["error"] = _("Choose a CSV file to upload.")
        return _page(request, "upload.html", context, status_code=400)
    if len(data) > MAX_CSV_BYTES:
        context["error"] = _("The file is larger than %(limit)s MB.") % {"limit": 5}
        return _page(request, "upload.html", context, status_code=400)
    agency = session.get(Agency, user.agency_id)
    assert agency is not None
    try:
        # No handle lookup here: a platform is never called in a web request. Accounts given
        # by handle alone are imported not yet verified; their ownership check learns the id.
        result = import_roster(session, agency, data, create_units=create_units)
    except RosterImportError as exc:
        context["errors"] = [(e.line, e.field, e.render(_)) for e in exc.errors]
        context["error"] = exc.render(_)
        return _page(request, "upload.html", context, status_code=400)
    audit.record(
        session,
        actor=user,
        action="roster.imported",
        entity="agency",
        entity_id=agency.id,
        agency_id=agency.id,
        detail=(
            f"created {result.created}, updated {result.updated}, "
            f"unchanged {result.unchanged}, units created {result.units_created}, "
            f"accounts by handle alone {result.unresolved}"
        ),
    )
    session.commit()
    context["result"] = result
    return _page(request, "upload.html", context)
