"""The steps of a staff sign-in after the password: second factor, known-device cookie.

After a correct password (web.auth), a person with a second factor on is asked for a
code (/login/two-factor); an admin or approver of an agency that requires one and has
none yet sets it up first (/login/two-factor/setup). Until then the session holds only
who is half-way through (for five minutes), never a signed-in identity.

A successful sign-in leaves a signed, long-lived *known device* cookie naming the
person. When their account is locked after failed attempts (kernel.throttle), the right
password typed on such a device still signs them in, so guessing wrong on purpose
cannot lock a person out of their own computer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func
from sqlmodel import Session, select

from gaung import i18n
from gaung.db import get_session
from gaung.errors import GaungError
from gaung.fields import email_key
from gaung.settings import get_settings
from kernel import throttle
from roster import two_factor
from roster.models import Agency, User
from web.deps import begin_session, client_address, end_session, now_seconds, render, verify_csrf

router = APIRouter(include_in_schema=False)

DEVICE_COOKIE = "gaung_device"
DEVICE_MAX_AGE = 365 * 24 * 3600
PENDING = "tfa"  # session key of a sign-in waiting for its second step
PENDING_SECONDS = 300
CODE_STEP, SETUP_STEP = "/login/two-factor", "/login/two-factor/setup"


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret_key(), salt="gaung.known-device")


def _secure() -> bool:
    settings = get_settings()
    if settings.auth.secure_cookies is not None:
        return settings.auth.secure_cookies
    return settings.base_url.startswith("https://")


def device_user_id(request: Request) -> int | None:
    """The staff member this browser signed in as before (a valid device cookie), if any."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return None
    try:
        data = _devices().loads(cookie, max_age=DEVICE_MAX_AGE)
    except BadSignature:
        return None
    uid = data.get("u") if isinstance(data, dict) else None
    return uid if isinstance(uid, int) else None


def known_device(request: Request, session: Session, email: str) -> bool:
    """Whether this browser signed in before as the account with this e-mail."""
    uid = device_user_id(request)
    if uid is None:
        return False
    statement = select(User.id).where(func.lower(User.email) == email_key(email))
    return session.exec(statement).first() == uid


def finish(request: Request, session: Session, user: User, target: str) -> Response:
    """Sign the person in: clear the account's failures, a fresh session, the device cookie."""
    throttle.reset_account(session, user.email)
    session.commit()
    begin_session(request, {"uid": user.id or 0, "uepoch": user.session_epoch})
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        DEVICE_COOKIE,
        _devices().dumps({"u": user.id}),
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=_secure(),
    )
    return response


def after_password(request: Request, session: Session, user: User, target: str) -> Response:
    """The password was right: the second step when there is one, else signed in."""
    agency = session.get(Agency, user.agency_id)
    if two_factor.enabled(user):
        step = CODE_STEP
    elif two_factor.required(user, agency):
        step = SETUP_STEP
    else:
        return finish(request, session, user, target)
    end_session(request)
    request.session[PENDING] = {
        "u": user.id,
        "e": user.session_epoch,
        "n": target,
        "t": now_seconds(),
    }
    return RedirectResponse(step, status_code=303)


def _pending(request: Request, session: Session) -> tuple[User, str] | None:
    data = request.session.get(PENDING)
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    if now_seconds() - int(data.get("t") or 0) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user = session.get(User, data["u"])
    if user is None or not user.active or user.session_epoch != data.get("e"):
        request.session.pop(PENDING, None)
        return None
    return user, str(data.get("n") or "/")


def _expired(request: Request) -> Response:
    context = {
        "mode": "staff",
        "next": "/",
        "email": "",
        "error": i18n.gettext("Your sign-in took too long. Please sign in again."),
    }
    return render(request, "login.html", context, status_code=400)


def _code_page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    return render(request, "login_two_factor.html", context, status_code=status)


def _locked(request: Request, session: Session, user: User) -> bool:
    lock = throttle.lockout(session, user.email, client_address(request))
    return lock is not None and not known_device(request, session, user.email)


def _wrong_code(request: Request, session: Session, user: User) -> None:
    throttle.record_failure(session, user.email, client_address(request))
    session.commit()


@router.get(CODE_STEP)
def code_page(request: Request, session: Session = Depends(get_session)) -> Response:
    if _pending(request, session) is None:
        return _expired(request)
    return _code_page(request, {"mode": "code"})


@router.post(CODE_STEP)
async def code_submit(
    request: Request,
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    found = _pending(request, session)
    if found is None or not two_factor.enabled(found[0]):
        return _expired(request)
    user, target = found
    code = str((await request.form()).get("code") or "")
    if _locked(request, session, user):
        message = i18n.gettext("Too many failed sign-in attempts. Please try again later.")
        return _code_page(request, {"mode": "code", "error": message, "error_field": "code"}, 429)
    if not two_factor.check_code(user, code):
        session.rollback()
        _wrong_code(request, session, user)
        message = i18n.gettext("That code is not right. Enter the 6 digits your app shows now.")
        return _code_page(request, {"mode": "code", "error": message, "error_field": "code"}, 400)
    session.add(user)  # the accepted step: the same code never works again
    return finish(request, session, user, target)


def _setup_context(session: Session, user: User) -> dict[str, Any]:
    agency = session.get(Agency, user.agency_id)
    uri = two_factor.provisioning_uri(user, agency)
    return {"mode": "setup", "secret": user.totp_secret, "qr": two_factor.qr_svg(uri)}


@router.get(SETUP_STEP)
def setup_page(request: Request, session: Session = Depends(get_session)) -> Response:
    found = _pending(request, session)
    if found is None or two_factor.enabled(found[0]):
        return _expired(request)
    user = found[0]
    if not user.totp_secret:
        two_factor.begin(session, user)
    return _code_page(request, _setup_context(session, user))


@router.post(SETUP_STEP)
async def setup_submit(
    request: Request,
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    found = _pending(request, session)
    if found is None or two_factor.enabled(found[0]) or not found[0].totp_secret:
        return _expired(request)
    user, target = found
    code = str((await request.form()).get("code") or "")
    try:
        two_factor.confirm(session, user, code)
    except GaungError as exc:
        session.rollback()
        context = {**_setup_context(session, user), "error": exc.render(i18n.gettext)}
        return _code_page(request, {**context, "error_field": exc.field}, 400)
    return finish(request, session, user, target)
