"""Sign-in: staff with email and password, ASN with the magic link from their messages.

Staff sign-in is throttled per e-mail and per client address (kernel.throttle): once a
key has too many failures, attempts are refused with 429 until its window ends, with
the same answer whether or not the account exists. A browser the account signed in on
before is the exception (web.two_factor's known-device cookie), and a password-reset
link lifts the account's lockout (roster.staff).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import Session, select

from gaung import i18n
from gaung.db import get_session, utcnow
from gaung.fields import email_key
from gaung.settings import get_settings
from kernel import audit, throttle
from roster import sign_in
from roster.models import Asn, AsnStatus, User
from roster.security import end_sessions, hash_password, read_magic_token, verify_password
from web.deps import (
    asn_identity,
    begin_session,
    client_address,
    end_session,
    render,
    signed_in_asn,
    verify_csrf,
)
from web.two_factor import after_password, known_device

router = APIRouter(include_in_schema=False)
# Who a magic link signs in: pending and rejected enrolments reach their enrolment page
# (web.enrol) to prove their accounts, see Humas' reason, or erase their data.
SIGN_IN_STATUSES = (AsnStatus.ACTIVE, AsnStatus.PENDING, AsnStatus.REJECTED)

# Compared against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = hash_password("gaung-no-such-user")


def safe_next(target: object, default: str = "/") -> str:
    """Only same-site paths: no scheme, no host, no protocol-relative '//' tricks."""
    if not isinstance(target, str) or not target.startswith("/"):
        return default
    if target.startswith("//") or any(ch in target for ch in "\r\n\\"):
        return default
    return target


def _by_email(session: Session, email: str) -> User | None:
    # lower() on the column too: a stored address migration 0011 could not normalise
    # (it reports and keeps those) still signs in as before.
    statement = select(User).where(func.lower(User.email) == email_key(email))
    return session.exec(statement).first()


def find_staff(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, else None (never says which part was wrong)."""
    user = _by_email(session, email)
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.active:
        return None
    return user


def _login_form(request: Request, target: str, email: str, error: str, status: int) -> Response:
    context = {"mode": "staff", "next": target, "email": email, "error": error}
    return render(request, "login.html", context, status_code=status)


def _too_many(request: Request, target: str, email: str, lock: throttle.Lockout) -> Response:
    """429 with the time to come back; says nothing about whether the account exists."""
    message = i18n.gettext(
        "Too many failed sign-in attempts. For your security, please try again after %(time)s."
    ) % {"time": i18n.format_datetime(lock.until, "HH:mm")}
    response = _login_form(request, target, email, message, 429)
    response.headers["Retry-After"] = str(lock.retry_after(utcnow()))
    return response


def _audit_lockouts(session: Session, kinds: list[str], email: str, address: str) -> None:
    """One audit row per key this failure locked (an attack is visible, not silent)."""
    minutes = get_settings().auth.failure_window_seconds // 60
    for kind in kinds:
        account = kind == throttle.ACCOUNT
        user = _by_email(session, email) if account else None
        subject = f"e-mail {email_key(email)[:254]!r}" if account else f"address {address}"
        audit.record(
            session,
            actor=None,
            action=f"login.locked.{kind}",
            entity="user" if user else "login",
            entity_id=user.id if user else None,
            agency_id=user.agency_id if user else None,
            detail=f"sign-in refused for {minutes} min after repeated failures: {subject}",
        )


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
    address, now = client_address(request), utcnow()
    # Checked before the password, so a locked key gets no further guesses; except from a
    # browser this account signed in on before (web.two_factor): there the right password
    # still works, so failures typed elsewhere on purpose cannot lock the person out.
    lock = throttle.lockout(session, email, address, now)
    if lock is not None and not known_device(request, session, email):
        return _too_many(request, target, email, lock)
    user = find_staff(session, email, password)
    if user is None:
        locked_now = throttle.record_failure(session, email, address, now)
        _audit_lockouts(session, locked_now, email, address)
        session.commit()
        if locked_now or lock is not None:
            lock = throttle.lockout(session, email, address, now)
        if lock is not None:
            return _too_many(request, target, email, lock)
        error = i18n.gettext("Incorrect email or password.")
        return _login_form(request, target, email, error, 400)
    # The second factor when there is one; the account's failures are cleared once signed in.
    return after_password(request, session, user, target)


@router.post("/logout")
def logout(
    request: Request,
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    """Sign out on every device: the session lives in a signed cookie, so a copy of it
    taken earlier would stay valid; bumping the user's epoch makes every copy worthless."""
    uid = request.session.get("uid")
    user = session.get(User, uid) if isinstance(uid, int) else None
    if user is not None and user.session_epoch == request.session.get("uepoch"):
        end_sessions(user)
        session.commit()
    end_session(request)
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
        or asn.status not in SIGN_IN_STATUSES
    ):
        context = {
            "mode": "asn",
            "error": i18n.gettext(
                "This sign-in link is invalid or has expired. "
                "Use the link in your most recent assignment message."
            ),
        }
        return render(request, "login.html", context, status_code=400)
    begin_session(request, asn_identity(asn))
    return RedirectResponse(asn_home(asn), status_code=303)


@router.post("/inbox/logout")
def asn_logout(
    request: Request,
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    """Sign out on the server: a copy of the cookie taken earlier stops working too."""
    asn = signed_in_asn(request, session)
    if asn is not None:
        sign_in.sign_out(session, asn)
    end_session(request)
    return RedirectResponse("/inbox/login", status_code=303)


def asn_home(asn: Asn) -> str:
    """Where a signed-in ASN starts."""
    # Someone still enrolling (or turned down) has no assignments: show their enrolment.
    return "/inbox" if asn.status == AsnStatus.ACTIVE else "/inbox/accounts"
