"""Console → API tokens: create one (shown once) and revoke them.

Everyone manages their own tokens; an admin also sees and revokes those of their agency's
staff and may create one for any of them. roster.api_tokens holds every rule.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select

from gaung.db import get_session
from gaung.errors import GaungError
from gaung.i18n import gettext as _
from roster import api_tokens
from roster.models import Role, User
from web.deps import render, require_role, verify_csrf

router = APIRouter(prefix="/console/tokens", include_in_schema=False)
staff = require_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
FIELDS = frozenset({"name", "expires_days", "staff"})


def _colleagues(session: Session, user: User) -> list[User]:
    if user.role != Role.ADMIN:
        return [user]
    query = select(User).where(User.agency_id == user.agency_id, col(User.active).is_(True))
    return list(session.exec(query.order_by(col(User.name))))


def _page(
    request: Request,
    session: Session,
    user: User,
    *,
    values: dict[str, Any] | None = None,
    secret: str | None = None,
    error: GaungError | None = None,
) -> Response:
    context = {
        "tokens": api_tokens.list_tokens(session, user),
        "colleagues": _colleagues(session, user),
        "values": values or {"name": "", "expires_days": "90", "staff": str(user.id)},
        "secret": secret,
        "is_live": api_tokens.is_live,
        "error": error.render(_) if error else None,
        "error_field": error.field if error and error.field in FIELDS else None,
        "flash": request.session.pop("flash", None),
    }
    return render(request, "console/tokens.html", context, status_code=400 if error else 200)


@router.get("")
def tokens(
    request: Request, user: User = Depends(staff), session: Session = Depends(get_session)
) -> Response:
    return _page(request, session, user)


@router.post("")
async def create(
    request: Request,
    user: User = Depends(staff),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("name", "expires_days", "staff")}
    try:
        days = values["expires_days"]
        if days and not days.isdigit():
            raise GaungError("Enter a whole number of days.", field="expires_days")
        owner = user
        if values["staff"] and values["staff"] != str(user.id):
            chosen = session.get(User, int(values["staff"])) if values["staff"].isdigit() else None
            if chosen is None or chosen.agency_id != user.agency_id:
                raise GaungError("Choose a staff member of your agency.", field="staff")
            owner = chosen
        issued = api_tokens.create_token(
            session,
            owner,
            name=values["name"],
            expires_days=int(days) if days else None,
            actor=user,
        )
    except GaungError as err:
        session.rollback()
        return _page(request, session, user, values=values, error=err)
    # Rendered, never redirected: the secret must not travel in the session cookie.
    return _page(request, session, user, secret=issued.secret)


@router.post("/{token_id}/revoke")
def revoke(
    request: Request,
    token_id: int,
    user: User = Depends(staff),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    api_tokens.revoke_token(session, user, token_id)
    request.session["flash"] = _("Token revoked. Requests with it are refused from now on.")
    return RedirectResponse("/console/tokens", status_code=303)
