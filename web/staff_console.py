"""The agency admin's staff page (/console/staff): invite, change roles, deactivate and
reactivate, send a password-reset link, remove a lost second factor.

Every rule lives in roster.staff and roster.two_factor. A link goes out by e-mail when
mail is set up; otherwise this page shows it once, to the admin, to pass on.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from gaung import i18n
from gaung.db import get_session
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from roster import staff, two_factor
from roster.models import Agency, Role, User
from web.deps import render, require_role, verify_csrf

router = APIRouter(prefix="/console", include_in_schema=False)
admin = require_role(Role.ADMIN)
_ = i18n.gettext
HOME = "/console/staff"
ROLE_LABELS = staff.ROLE_LABELS


def _page(
    request: Request,
    session: Session,
    user: User,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "people": staff.list_staff(session, user.agency_id),
        "agency": session.get(Agency, user.agency_id),
        "roles": {role.value: _(label) for role, label in ROLE_LABELS.items()},
        "two_factor_on": two_factor.enabled,
        "mail": staff.mail_configured(),
        "values": {"email": "", "name": "", "role": Role.EDITOR.value},
        "flash": request.session.pop("flash", None),
    }
    context.update(extra or {})
    return render(request, "console/staff.html", context, status_code=status)


def _failed(
    request: Request, session: Session, user: User, exc: GaungError, **extra: Any
) -> Response:
    if isinstance(exc, NotFoundError | ForbiddenError):
        raise exc  # the app's 404 / 403 page, like any other missing or forbidden thing
    session.rollback()
    context = {"error": exc.render(i18n.gettext), "error_field": exc.field, **extra}
    return _page(request, session, user, context, status=400)


def _back(request: Request, message: str) -> RedirectResponse:
    request.session["flash"] = message
    return RedirectResponse(HOME, status_code=303)


def _link_result(
    request: Request, session: Session, user: User, person: User, url: str | None, sent: str
) -> Response:
    """Mailed: back to the list. No mail: the link, shown this once (never stored)."""
    if url is None:
        return _back(request, sent % {"email": person.email})
    return _page(request, session, user, {"link": url, "link_for": person})


@router.get("/staff")
def staff_page(
    request: Request, user: User = Depends(admin), session: Session = Depends(get_session)
) -> Response:
    return _page(request, session, user)


@router.post("/staff")
async def invite(
    request: Request,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("email", "name", "role")}
    agency = session.get(Agency, user.agency_id)
    assert agency is not None
    try:
        person = staff.add_staff(
            session,
            agency,
            email=values["email"],
            role=values["role"],
            name=values["name"],
            actor=user,
        )
        url = staff.send_link(session, user, person, staff.INVITE)
    except GaungError as exc:
        return _failed(request, session, user, exc, values=values)
    sent = _("An invitation was e-mailed to %(email)s.")
    return _link_result(request, session, user, person, url, sent)


async def _role(request: Request) -> str:
    return str((await request.form()).get("role") or "")


@router.post("/staff/{user_id}/role")
async def change_role(
    request: Request,
    user_id: int,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        person = staff.change_role(session, user, user_id, await _role(request))
    except GaungError as exc:
        return _failed(request, session, user, exc)
    return _back(
        request,
        _("%(email)s is now %(role)s.")
        % {"email": person.email, "role": _(ROLE_LABELS[Role(person.role)]).lower()},
    )


@router.post("/staff/{user_id}/deactivate")
def deactivate(
    request: Request,
    user_id: int,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        person = staff.deactivate(session, user, user_id)
    except GaungError as exc:
        return _failed(request, session, user, exc)
    if person.id == user.id:
        return RedirectResponse("/login", status_code=303)
    message = _("%(email)s was deactivated and signed out everywhere.")
    return _back(request, message % {"email": person.email})


@router.post("/staff/{user_id}/reactivate")
def reactivate(
    request: Request,
    user_id: int,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        person = staff.reactivate(session, user, user_id)
    except GaungError as exc:
        return _failed(request, session, user, exc)
    return _back(request, _("%(email)s was reactivated.") % {"email": person.email})


@router.post("/staff/{user_id}/reset")
def send_reset(
    request: Request,
    user_id: int,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        person = staff.get_staff(session, user, user_id)
        url = staff.send_link(session, user, person, staff.RESET)
    except GaungError as exc:
        return _failed(request, session, user, exc)
    sent = _("A password-reset link was e-mailed to %(email)s.")
    return _link_result(request, session, user, person, url, sent)


@router.post("/staff/{user_id}/two-factor-reset")
def reset_two_factor(
    request: Request,
    user_id: int,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    try:
        person = two_factor.reset(session, user, user_id)
    except GaungError as exc:
        return _failed(request, session, user, exc)
    message = _("Two-step sign-in of %(email)s was removed; they can set it up again.")
    return _back(request, message % {"email": person.email})
