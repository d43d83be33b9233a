"""Shared pieces of every page: templates, session identity, role checks, CSRF.

CSRF uses the synchronizer-token pattern: one random token per session, kept in
the signed session cookie and echoed by every form as ``csrf_token``. (A
double-submit cookie library rotates the token per render, which breaks a second
open tab; a session-bound token does not.)
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import object_session
from sqlmodel import Session

from gaung import i18n
from gaung.db import get_session
from gaung.settings import PROJECT_ROOT, get_settings
from roster.agencies import reader_zone
from roster.models import Asn, AsnStatus, User

templates = Jinja2Templates(directory=str(PROJECT_ROOT / "templates" / "pages"))
i18n.install(templates.env)

CSRF_FIELD = "csrf_token"
# Session keys: when the sign-in happened and when the session was last used (Unix seconds).
ISSUED_AT, LAST_SEEN = "iat", "seen"
# "seen" is rewritten at most this often, so most responses do not re-sign the cookie.
TOUCH_SECONDS = 60
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
        "member": getattr(request.state, "member", None),
    }
    ctx["reader_zone"] = zone_of_reader(ctx["user"] or ctx["asn"] or ctx["member"])
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def zone_of_reader(person: User | Asn | None) -> str | None:
    """The IANA zone the signed-in person reads times in (their unit's, agency's or the
    instance's); None when nobody is signed in (the filters then use the instance's)."""
    if person is None:
        return None
    session = object_session(person)
    if not isinstance(session, Session):
        return None
    return reader_zone(session, person.agency_id, getattr(person, "unit_id", None))


def now_seconds() -> int:
    """The clock of session expiry (a function so tests can move it)."""
    return int(time.time())


def end_session(request: Request) -> None:
    """Drop the identity, the CSRF token and the times; keep only the language choice."""
    locale = request.session.get("locale")
    request.session.clear()
    if locale:
        request.session["locale"] = locale


def begin_session(request: Request, identity: dict[str, int]) -> None:
    """A fresh session for a new sign-in (never reuse the old one: session fixation)."""
    end_session(request)
    request.session.update(identity)
    request.session[ISSUED_AT] = request.session[LAST_SEEN] = now_seconds()


def session_alive(request: Request) -> bool:
    """Enforce the absolute and idle limits on the server; an expired session is ended.

    The cookie's own max-age is no limit: Starlette re-signs it on every response, and a
    copied cookie would be replayed regardless of what the browser was told.
    """
    auth = get_settings().auth
    now = now_seconds()
    issued, seen = request.session.get(ISSUED_AT), request.session.get(LAST_SEEN)
    if (
        not isinstance(issued, int)
        or not isinstance(seen, int)
        or now - issued > auth.session_max_age_seconds
        or now - seen > auth.session_idle_seconds
    ):
        end_session(request)
        return False
    if now - seen >= TOUCH_SECONDS:
        request.session[LAST_SEEN] = now
    return True


def optional_user(request: Request, session: Session = Depends(get_session)) -> User | None:
    uid = request.session.get("uid")
    if not isinstance(uid, int) or not session_alive(request):
        return None
    user = session.get(User, uid)
    if user is None or not user.active or user.session_epoch != request.session.get("uepoch"):
        end_session(request)
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


def asn_identity(asn: Asn) -> dict[str, int]:
    """What an inbox session carries: whose it is and the two epochs that can end it."""
    return {"asn": asn.id or 0, "asn_epoch": asn.login_epoch, "asn_session": asn.session_epoch}


def signed_in_asn(request: Request, session: Session) -> Asn | None:
    """The ASN of a live inbox session whose epochs still hold, whatever their status."""
    asn_id = request.session.get("asn")
    if not isinstance(asn_id, int) or not session_alive(request):
        return None
    asn = session.get(Asn, asn_id)
    if asn is None or asn.login_epoch != request.session.get("asn_epoch"):
        return None
    if asn.session_epoch != request.session.get("asn_session"):
        return None
    request.state.member = asn  # the sign-out button, on every page they see
    return asn


def current_asn(request: Request, session: Session = Depends(get_session)) -> Asn:
    """The ASN signed in through a magic link; otherwise redirect to the inbox sign-in."""
    asn = signed_in_asn(request, session)
    if asn is None or asn.status != AsnStatus.ACTIVE:
        end_session(request)
        raise LoginRequired("asn")
    request.state.asn = asn
    return asn


@lru_cache
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request) -> str:
    """The client's IP: the connection's peer, or, when that peer is a trusted proxy
    (settings auth.trusted_proxies), the nearest untrusted hop in X-Forwarded-For.

    Hops are read right to left because a client can prepend anything it likes; only
    the entries our own proxies appended are believed.
    """
    peer = request.client.host if request.client else ""
    return address_from(peer, request.headers.get("x-forwarded-for", ""))


def address_from(peer: str, forwarded_for: str) -> str:
    """:func:`client_address` from the peer's address and the X-Forwarded-For header."""
    networks = _networks(tuple(get_settings().auth.trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from a proxy: fall back to what we know
    return peer
