"""Every staff member's own account (/console/account) and the one-time password links.

/console/account: change one's password (the current one is asked; every other session
ends), set up or turn off the second factor, and turn the weekly report e-mail on or off
(roster.weekly_report). /account/set-password/{token}: the page an
invitation or reset link opens (roster.staff); it needs no sign-in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from gaung import i18n
from gaung.db import get_session
from gaung.errors import N_, GaungError
from roster import passwords, staff, two_factor, weekly_report
from roster.models import Agency, Role, User
from web.deps import begin_session, current_user, render, verify_csrf

router = APIRouter(include_in_schema=False)
_ = i18n.gettext
HOME = "/console/account"


def _page(
    request: Request,
    session: Session,
    user: User,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    agency = session.get(Agency, user.agency_id)
    context: dict[str, Any] = {
        "me": user,
        "role_label": _(staff.ROLE_LABELS.get(Role(user.role), user.role)),
        "agency": agency,
        "two_factor_on": two_factor.enabled(user),
        "two_factor_required": two_factor.required(user, agency),
        "min_length": passwords.MIN_LENGTH,
        "flash": request.session.pop("flash", None),
        "weekly_report_offered": weekly_report.may_subscribe(user),
        "weekly_report_since": weekly_report.subscribed_since(session, user),
    }
    if not context["two_factor_on"] and user.totp_secret:
        context["qr"] = two_factor.qr_svg(two_factor.provisioning_uri(user, agency))
        context["secret"] = user.totp_secret
    context.update(extra or {})
    return render(request, "console/account.html", context, status_code=status)


def _failed(request: Request, session: Session, user: User, exc: GaungError) -> Response:
    session.rollback()
    extra = {"error": exc.render(i18n.gettext), "error_field": exc.field}
    return _page(request, session, user, extra, status=400)


def _done(request: Request, message: str) -> RedirectResponse:
    request.session["flash"] = message
    return RedirectResponse(HOME, status_code=303)


@router.get(HOME)
def account_page(
    request: Request, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> Response:
    return _page(request, session, user)


@router.post(f"{HOME}/password")
async def change_password(
    request: Request,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    agency = session.get(Agency, user.agency_id)
    try:
        passwords.change_password(
            session,
            user,
            current=str(form.get("current_password") or ""),
            new=str(form.get("new_password") or ""),
            confirm=str(form.get("confirm_password") or ""),
            agency_name=agency.name if agency else "",
        )
    except GaungError as exc:
        return _failed(request, session, user, exc)
    # Every other session ended with the old epoch; this one carries on under the new one.
    begin_session(request, {"uid": user.id or 0, "uepoch": user.session_epoch})
    return _done(request, _("Your password was changed. You were signed out everywhere else."))


@router.post(f"{HOME}/two-factor/begin")
def two_factor_begin(
    request: Request,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        two_factor.begin(session, user)
    except GaungError as exc:
        return _failed(request, session, user, exc)
    return RedirectResponse(f"{HOME}#two-factor", status_code=303)


@router.post(f"{HOME}/two-factor/confirm")
async def two_factor_confirm(
    request: Request,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    code = str((await request.form()).get("code") or "")
    try:
        two_factor.confirm(session, user, code)
    except GaungError as exc:
        return _failed(request, session, user, exc)
    return _done(request, _("Two-step sign-in is on."))


@router.post(f"{HOME}/two-factor/disable")
async def two_factor_disable(
    request: Request,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    password = str((await request.form()).get("password") or "")
    try:
        two_factor.disable(session, user, session.get(Agency, user.agency_id), password)
    except GaungError as exc:
        return _failed(request, session, user, exc)
    return _done(request, _("Two-step sign-in is off."))


@router.post(f"{HOME}/weekly-report")
async def weekly_report_setting(
    request: Request,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    choice = str((await request.form()).get("weekly_report") or "")
    if choice not in ("on", "off"):
        error = GaungError(N_("Choose on or off for the weekly report."), field="weekly_report")
        return _failed(request, session, user, error)
    try:
        weekly_report.set_subscription(session, user, choice == "on")
    except GaungError as exc:
        return _failed(request, session, user, exc)
    if choice == "on":
        return _done(request, _("The weekly report is on: it arrives by e-mail every Monday."))
    return _done(request, _("The weekly report is off."))


# --- one-time links (no sign-in) ------------------------------------------------------------


def _link_page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    return render(request, "set_password.html", context, status_code=status)


@router.get("/account/set-password/{token}")
def set_password_page(
    request: Request, token: str, session: Session = Depends(get_session)
) -> Response:
    found = staff.open_link(session, token)
    if found is None:
        return _link_page(request, {"invalid": True}, 400)
    row, user = found
    context = {"token": token, "person": user, "purpose": row.purpose}
    return _link_page(request, {**context, "min_length": passwords.MIN_LENGTH})


@router.post("/account/set-password/{token}")
async def set_password(
    request: Request,
    token: str,
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    try:
        user = staff.use_link(
            session,
            token,
            password=str(form.get("new_password") or ""),
            confirm=str(form.get("confirm_password") or ""),
        )
    except GaungError as exc:
        session.rollback()
        found = staff.open_link(session, token)
        context: dict[str, Any] = {"error": exc.render(i18n.gettext), "error_field": exc.field}
        if found is None:
            context = {"invalid": True}
        else:
            context.update(token=token, person=found[1], purpose=found[0].purpose)
        return _link_page(request, {**context, "min_length": passwords.MIN_LENGTH}, 400)
    return _link_page(request, {"done": True, "person": user})
