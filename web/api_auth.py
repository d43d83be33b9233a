"""Who calls the JSON API: a bearer token (roster.api_tokens) or the console's session.

A request with an ``Authorization`` header is judged by it alone: an unknown, revoked or
expired token, or one of a deactivated staff member, answers 401 with
``WWW-Authenticate: Bearer`` (never a fallback to the cookie). Without the header the
browser session is used, as before; its writes must echo the session's CSRF token in an
``X-CSRF-Token`` header (a bearer token is not sent by browsers on their own, so bearer
writes need none).

Both are declared as security schemes, so the OpenAPI document says how to authenticate.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from gaung import i18n
from gaung.db import get_session
from roster import api_tokens
from roster.models import Role, User
from web.deps import CSRF_FIELD, optional_user

bearer = HTTPBearer(
    auto_error=False,
    description="An API token: `gaung token create`, or Console → API tokens.",
)
session_cookie = APIKeyCookie(
    name="gaung_session",
    auto_error=False,
    description="The console's session; writes also need its CSRF token in X-CSRF-Token.",
)


def unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def api_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    _cookie: str | None = Security(session_cookie),
    session: Session = Depends(get_session),
) -> User:
    """The staff member behind the request; 401 without a valid token or session."""
    if "authorization" in request.headers:
        user = None
        if credentials is not None and credentials.scheme.lower() == "bearer":
            user = api_tokens.authenticate(session, credentials.credentials)
        if user is None:
            raise unauthorized(i18n.gettext("The API token is unknown, revoked or expired."))
        request.state.user = user
        request.state.via_token = True
        return user
    user = optional_user(request, session)
    if user is None:
        raise unauthorized(i18n.gettext("Please sign in or send an API token."))
    request.state.via_token = False
    return user


def _check_csrf(request: Request) -> None:
    sent = request.headers.get("x-csrf-token", "")
    expected = request.session.get(CSRF_FIELD, "")
    if not expected or not secrets.compare_digest(sent.encode(), str(expected).encode()):
        raise HTTPException(status_code=403, detail=i18n.gettext("Invalid or expired form token."))


def api_role(*roles: str, write: bool = False) -> Callable[..., User]:
    """Dependency factory: a caller holding one of ``roles`` (admins always pass).

    ``write``: a session caller must also send the CSRF token.
    """

    def check(request: Request, user: User = Depends(api_user)) -> User:
        if write and not getattr(request.state, "via_token", False):
            _check_csrf(request)
        if user.role not in roles and user.role != Role.ADMIN:
            raise HTTPException(
                status_code=403, detail=i18n.gettext("Your role does not allow this action.")
            )
        return user

    return check
