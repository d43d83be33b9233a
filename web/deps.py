"""Shared pieces of every page: templates, session identity, role checks, CSRF.

CSRF uses the synchronizer-token pattern: one random token per session, kept in
the signed session cookie and echoed by every form as ``csrf_token``. (A
double-submit cookie library rotates the token per render, which breaks a second
open tab; a session-bound token does not.)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from gaung import i18n
from gaung.db import get_session
from gaung.settings import PROJECT_ROOT
from roster.models import Asn, AsnStatus, User

templates = Jinja2Templates(directory=str(PROJECT_ROOT / "templates" / "pages"))
i18n.install(templates.env)

CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):  # noqa: N818 - control flow, turned into a redirect
    """Raised when a page needs a signed-in staff member or ASN; the app redirects."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "staff" or "asn"


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return str(token)


async def verify_csrf(request: Request) -> None:
    """Dependency for every state-changing form route."""
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get("x-csrf-token", "")
    expected = request.session.get(CSRF_FIELD, "")
    if not isinstance(sent, str) or not expected or not secrets.compare_digest(sent, expected):
        raise HTTPException(status_code=403, detail=i18n.gettext("Invalid or expired form token."))


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "request": request,
        "csrf_token": csrf_token(request),
        "locale": i18n.get_locale(),
        "user": getattr(request.state, "user", None),
        "asn": getattr(request.state, "asn", None),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def optional_user(request: Request, session: Session = Depends(get_session)) -> User | None:
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    user = session.get(User, uid)
    if user is None or not user.active:
        request.session.pop("uid", None)
        return None
    request.state.user = user
    return user


def current_user(user: User | None = Depends(optional_user)) -> User:
    """The signed-in staff member; pages without one redirect to /login."""
    if user is None:
        raise LoginRequired("staff")
    return user


def require_role(*roles: str) -> Callable[..., User]:
    """Dependency factory: the signed-in staff member must hold one of these roles."""

    def check(user: User = Depends(current_user)) -> User:
        if user.role not in roles and user.role != "admin":
            raise HTTPException(status_code=403, detail=i18n.gettext("You may not open this page."))
        return user

    return check


def current_asn(request: Request, session: Session = Depends(get_session)) -> Asn:
    """The ASN signed in through a magic link; otherwise redirect to the inbox sign-in."""
    asn_id, epoch = request.session.get("asn"), request.session.get("asn_epoch")
    asn = session.get(Asn, asn_id) if isinstance(asn_id, int) else None
    if asn is None or asn.login_epoch != epoch or asn.status != AsnStatus.ACTIVE:
        request.session.pop("asn", None)
        raise LoginRequired("asn")
    request.state.asn = asn
    return asn
