"""Sign-in: staff with email and password, ASN with the magic link from their messages."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import Session, select

from gaung import i18n
from gaung.db import get_session
from gaung.security import hash_password, read_magic_token, verify_password
from roster.models import Asn, AsnStatus, User
from web.deps import render, verify_csrf

router = APIRouter(include_in_schema=False)

# Compared against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = hash_password("gaung-no-such-user")


def safe_next(target: object, default: str = "/") -> str:
    """Only same-site paths: no scheme, no host, no protocol-relative '//' tricks."""
    if not isinstance(target, str) or not target.startswith("/"):
        return default
    if target.startswith("//") or any(ch in target for ch in "\r\n\\"):
        return default
    return target


def restart_session(request: Request) -> None:
    """New identity, new session: drop everything (including the CSRF token) but the language."""
    locale = request.session.get("locale")
    request.session.clear()
    if locale:
        request.session["locale"] = locale


def find_staff(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, else None (never says which part was wrong)."""
    statement = select(User).where(func.lower(User.email) == email.strip().lower())
    user = session.exec(statement).first()
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.active:
        return None
    return user


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    return render(request, "login.html", {"mode": "staff", "next": safe_next(next), "email": ""})


@router.post("/login")
async def login(
    request: Request,
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    target = safe_next(form.get("next"))
    user = find_staff(session, email, password)
    if user is None:
        context = {
            "mode": "staff",
            "next": target,
            "email": email,
            "error": i18n.gettext("Incorrect email or password."),
        }
        return render(request, "login.html", context, status_code=400)
    restart_session(request)
    request.session["uid"] = user.id
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, _: None = Depends(verify_csrf)) -> Response:
    restart_session(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/inbox/login")
def asn_login_page(request: Request) -> Response:
    return render(request, "login.html", {"mode": "asn"})


@router.get("/inbox/login/{token}")
def asn_login(request: Request, token: str, session: Session = Depends(get_session)) -> Response:
    found = read_magic_token(token)
    asn = session.get(Asn, found[0]) if found else None
    if (
        found is None
        or asn is None
        or asn.login_epoch != found[1]
        or asn.status != AsnStatus.ACTIVE
    ):
        context = {
            "mode": "asn",
            "error": i18n.gettext(
                "This sign-in link is invalid or has expired. "
                "Use the link in your most recent assignment message."
            ),
        }
        return render(request, "login.html", context, status_code=400)
    restart_session(request)
    request.session["asn"] = asn.id
    request.session["asn_epoch"] = asn.login_epoch
    return RedirectResponse("/inbox", status_code=303)
