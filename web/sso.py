"""Single sign-on with OpenID Connect: "Masuk dengan SSO" per agency, and its admin page.

``GET /login/sso/{agency_slug}`` sends the browser to the agency's provider (authorization
code flow with PKCE S256, ``state`` and ``nonce`` kept in the signed session);
``GET /login/sso/callback`` redeems the code, validates the ID token (channels.oidc) and
maps its verified e-mail to a staff account of that agency (roster.oidc). The session it
starts is the password sign-in's (web.two_factor.after_password: the second step where the
person has one or the agency requires it, then a fresh session carrying the user's session
epoch, its own CSRF token, the same server-side time limits).

Failures count like wrong passwords (kernel.throttle): a refused identity against its
e-mail and the client address, a callback naming no one (wrong or replayed state, an
error from the provider, a token that fails validation) against the address. A locked
e-mail or address gets the same 429 as at the password form. Every refusal is audited
(``login.sso.refused``), and so is every SSO sign-in (``login.sso``).

``/console/sso`` lets an agency's admin set the issuer URL and client id; the client
secret is only ever read from the environment (roster.oidc.secret_env_name).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from channels import oidc as provider
from gaung import i18n
from gaung.db import get_engine, get_session, utcnow
from gaung.errors import N_, GaungError, NotFoundError
from gaung.fields import email_key
from gaung.settings import get_settings
from kernel import audit, throttle
from roster import oidc
from roster.models import Agency, Role, User
from web.auth import safe_next
from web.deps import (
    client_address,
    now_seconds,
    render,
    require_role,
    templates,
    verify_csrf,
)
from web.two_factor import after_password

router = APIRouter(include_in_schema=False)
admin = require_role(Role.ADMIN)
CALLBACK = "/login/sso/callback"
PAGE = "/console/sso"
# Session key of a sign-in under way, and how long the provider may take to answer.
PENDING = "sso"
PENDING_SECONDS = 600


def redirect_uri() -> str:
    """The one callback URL to register at every provider."""
    return get_settings().base_url.rstrip("/") + CALLBACK


def sso_agencies() -> list[Agency]:
    """Agencies offering "Masuk dengan SSO" (a template global for the sign-in page)."""
    with Session(get_engine()) as session:
        return oidc.configured(session)


templates.env.globals["sso_agencies"] = sso_agencies


# --- sign-in -----------------------------------------------------------------------------


def _page_error(request: Request, message: str, status: int) -> Response:
    context = {"mode": "staff", "next": "/", "email": "", "error": message}
    return render(request, "login.html", context, status_code=status)


def _too_many(request: Request, lock: throttle.Lockout) -> Response:
    message = i18n.gettext(
        "Too many failed sign-in attempts. For your security, please try again after %(time)s."
    ) % {"time": i18n.format_datetime(lock.until, "HH:mm")}
    response = _page_error(request, message, 429)
    response.headers["Retry-After"] = str(lock.retry_after(utcnow()))
    return response


def _audit_locked(session: Session, kinds: list[str], email: str, address: str) -> None:
    minutes = get_settings().auth.failure_window_seconds // 60
    for kind in kinds:
        subject = (
            f"e-mail {email_key(email)[:254]!r}"
            if kind == throttle.ACCOUNT
            else (f"address {address}")
        )
        audit.record(
            session,
            actor=None,
            action=f"login.locked.{kind}",
            entity="login",
            entity_id=None,
            agency_id=None,
            detail=f"sign-in refused for {minutes} min after repeated failures: {subject}",
        )


def _refuse(
    request: Request,
    session: Session,
    *,
    reason: str,
    message: str,
    status: int,
    agency: Agency | None = None,
    email: str = "",
    user: User | None = None,
    count: bool = True,
) -> Response:
    """Audit, count against the throttle (unless the provider was merely unreachable),
    commit and answer with the sign-in page and ``message``."""
    address, now = client_address(request), utcnow()
    detail = f"single sign-on refused ({reason})"
    if agency is not None:
        detail += f" for agency {agency.slug}"
    if email:
        detail += f": e-mail {email_key(email)[:254]!r}"
    audit.record(
        session,
        actor=None,
        action="login.sso.refused",
        entity="user" if user else "login",
        entity_id=user.id if user else None,
        agency_id=agency.id if agency else None,
        detail=detail,
    )
    locked: list[str] = []
    if count and email:
        locked = throttle.record_failure(session, email, address, now)
    elif count and throttle.record_address_failure(session, address, now):
        locked = [throttle.ADDRESS]
    _audit_locked(session, locked, email, address)
    session.commit()
    if locked:
        lock = throttle.lockout(session, email, address, now)
        if lock is not None:
            return _too_many(request, lock)
    return _page_error(request, message, status)


@router.get(CALLBACK)
def sso_callback(request: Request, session: Session = Depends(get_session)) -> Response:
    pending: Any = request.session.pop(PENDING, None)  # one use: a replay finds nothing
    address = client_address(request)
    lock = throttle.lockout(session, "", address)  # "": no account, the address only
    if lock is not None:
        return _too_many(request, lock)
    params = request.query_params
    stale = i18n.gettext(
        "This single sign-on attempt has expired or was already used. Please start again."
    )
    if (
        not isinstance(pending, dict)
        or not isinstance(pending.get("state"), str)
        or not secrets.compare_digest(str(params.get("state", "")), pending["state"])
    ):
        return _refuse(request, session, reason="state", message=stale, status=400)
    found = oidc.by_slug(session, str(pending.get("agency", "")))
    if found is None:
        return _refuse(request, session, reason="not_configured", message=stale, status=400)
    agency, config = found
    if now_seconds() - int(pending.get("at", 0)) > PENDING_SECONDS:
        return _refuse(request, session, reason="expired", message=stale, status=400, agency=agency)
    if params.get("error") or not params.get("code"):
        error = str(params.get("error") or "no code")[:100]
        message = i18n.gettext("Sign-in at the identity provider was cancelled or refused.")
        return _refuse(
            request,
            session,
            reason=f"provider: {error}",
            message=message,
            status=400,
            agency=agency,
        )
    try:
        claims = provider.finish(
            config.issuer,
            config.client_id,
            oidc.client_secret(agency.slug),
            redirect_uri(),
            code=str(params["code"]),
            pending=provider.Pending(
                state=pending["state"],
                nonce=str(pending.get("nonce", "")),
                code_verifier=str(pending.get("verifier", "")),
            ),
        )
    except provider.OidcError as exc:
        if exc.kind == "unreachable":
            message = i18n.gettext(
                "The identity provider cannot be reached right now. Please try again later, "
                "or sign in with your password."
            )
            return _refuse(
                request,
                session,
                reason=str(exc),
                message=message,
                status=502,
                agency=agency,
                count=False,
            )
        message = i18n.gettext(
            "The identity provider's answer could not be verified, so you were not signed in. "
            "Please start again."
        )
        return _refuse(
            request, session, reason=str(exc), message=message, status=400, agency=agency
        )
    email = oidc.claimed_email(claims)
    if email:
        lock = throttle.lockout(session, email, address)
        if lock is not None:
            return _too_many(request, lock)
    try:
        user = oidc.staff_for_identity(session, agency, config, claims)
    except oidc.Refusal as refusal:
        session.rollback()
        message = i18n.gettext(refusal.message) % {"email": refusal.email, "agency": agency.name}
        return _refuse(
            request,
            session,
            reason=refusal.reason,
            message=message,
            status=403,
            agency=agency,
            email=refusal.email,
        )
    throttle.reset_account(session, user.email)
    audit.record(
        session,
        actor=user,
        action="login.sso",
        entity="user",
        entity_id=user.id,
        agency_id=agency.id,
        detail=f"signed in through {config.issuer}",
    )
    session.commit()
    # The provider vouched for the password; Gaung's own second factor still applies where
    # the person set one up or the agency requires it (we cannot see the provider's MFA).
    return after_password(request, session, user, safe_next(pending.get("next")))


@router.get("/login/sso/{agency_slug}")
def sso_start(
    request: Request, agency_slug: str, next: str = "", session: Session = Depends(get_session)
) -> Response:
    found = oidc.by_slug(session, agency_slug)
    if found is None:
        raise NotFoundError(N_("This agency has no single sign-on."))
    agency, config = found
    lock = throttle.lockout(session, "", client_address(request))
    if lock is not None:
        return _too_many(request, lock)
    try:
        url, pending = provider.authorization_url(
            config.issuer, config.client_id, redirect_uri(), locale=i18n.get_locale()
        )
    except provider.OidcError as exc:
        audit.record(
            session,
            actor=None,
            action="login.sso.unavailable",
            entity="agency",
            entity_id=agency.id,
            agency_id=agency.id,
            detail=str(exc),
        )
        session.commit()
        message = i18n.gettext(
            "The identity provider cannot be reached right now. Please try again later, "
            "or sign in with your password."
        )
        return _page_error(request, message, 502)
    request.session[PENDING] = {
        "agency": agency.slug,
        "state": pending.state,
        "nonce": pending.nonce,
        "verifier": pending.code_verifier,
        "next": safe_next(next),
        "at": now_seconds(),
    }
    return RedirectResponse(url, status_code=303)


# --- the admin page ----------------------------------------------------------------------


def _console(
    request: Request,
    session: Session,
    user: User,
    *,
    form: dict[str, Any] | None = None,
    error: str = "",
    error_field: str = "",
    status: int = 200,
) -> Response:
    agency = session.get(Agency, user.agency_id)
    assert agency is not None
    config = oidc.get(session, user.agency_id)
    values = form or {
        "issuer": config.issuer if config else "",
        "client_id": config.client_id if config else "",
        "allow_self_registration": config.allow_self_registration if config else False,
        "domains": config.self_registration_domains if config else "",
    }
    context = {
        "agency": agency,
        "config": config,
        "values": values,
        "secret_env": oidc.secret_env_name(agency.slug),
        "secret_set": oidc.client_secret(agency.slug) is not None,
        "redirect_uri": redirect_uri(),
        "error": error,
        "error_field": error_field,
        "flash": request.session.pop("flash", None),
    }
    return render(request, "console/sso.html", context, status_code=status)


@router.get(PAGE)
def sso_console(
    request: Request, user: User = Depends(admin), session: Session = Depends(get_session)
) -> Response:
    return _console(request, session, user)


@router.post(PAGE)
async def sso_save(
    request: Request,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    issuer, client_id = str(form.get("issuer") or ""), str(form.get("client_id") or "")
    allow, domains = form.get("allow_self_registration") == "on", str(form.get("domains") or "")
    values = {
        "issuer": issuer,
        "client_id": client_id,
        "allow_self_registration": allow,
        "domains": domains,
    }
    agency = session.get(Agency, user.agency_id)
    assert agency is not None
    try:
        oidc.configure(
            session,
            user,
            agency,
            issuer=issuer,
            client_id=client_id,
            allow_self_registration=allow,
            domains=domains,
        )
    except GaungError as exc:
        session.rollback()
        return _console(
            request,
            session,
            user,
            form=values,
            error=exc.render(i18n.gettext),
            error_field=exc.field or "",
            status=400,
        )
    request.session["flash"] = i18n.gettext(
        "Saved. The sign-in page now offers single sign-on for %(agency)s."
    ) % {"agency": agency.name}
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/remove")
def sso_remove(
    request: Request,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _: None = Depends(verify_csrf),
) -> Response:
    agency = session.get(Agency, user.agency_id)
    assert agency is not None
    if oidc.remove(session, user, agency):
        request.session["flash"] = i18n.gettext(
            "Single sign-on is off. Staff sign in with their password."
        )
    return RedirectResponse(PAGE, status_code=303)
