"""Single sign-on with OpenID Connect: each agency's provider, and who a verified e-mail is.

An agency's admin (``/console/sso``) or an operator (``gaung sso set``) names the
provider's issuer URL and the client id Gaung is registered under. The client secret is
never stored: it comes from the environment, ``GAUNG_OIDC__<SLUG>__CLIENT_SECRET``
(:func:`secret_env_name`); without one Gaung is a public client and relies on PKCE.

Sign-in (web.sso, channels.oidc) hands :func:`staff_for_identity` the claims of a
validated ID token. Only an e-mail the provider marks ``email_verified: true`` counts,
and it must belong to an active staff account of the same agency. An agency may allow
self-registration: a verified e-mail without an account then becomes a *supervisor*
(read-only reach), never anything more, and only for the e-mail domains the agency
listed when it listed any.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import Field, Session, SQLModel, select

from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError
from gaung.fields import email_key, normalise_email
from kernel import audit
from roster.models import Agency, Role, User
from roster.security import hash_password

# Plain http is only accepted for a provider on this machine (development, the tests).
_LOOPBACK_NAMES = {"localhost"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class AgencySso(SQLModel, table=True):
    """One agency's OpenID provider. No secret here: it is read from the environment."""

    __tablename__ = "agency_sso"
    agency_id: int = Field(primary_key=True, foreign_key="agency.id")
    # Exactly as the provider writes it in `iss` (Keycloak: https://host/realms/<realm>).
    issuer: str = Field(max_length=500)
    client_id: str = Field(max_length=200)
    # A verified e-mail without a staff account may join this agency as a supervisor.
    allow_self_registration: bool = False
    # Space-separated e-mail domains self-registration is limited to; empty: any domain.
    self_registration_domains: str = Field(default="", max_length=500)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: int | None = Field(default=None, foreign_key="user.id")

    @property
    def domains(self) -> list[str]:
        return self.self_registration_domains.split()


class Refusal(Exception):  # noqa: N818 - a refused sign-in, not a programming error
    """SSO sign-in refused. ``reason`` goes to the audit log; ``message`` is a msgid."""

    def __init__(self, reason: str, message: str, email: str = "") -> None:
        super().__init__(reason)
        self.reason, self.message, self.email = reason, message, email


NOT_STAFF = N_(
    "The SSO account %(email)s is not an active staff account of %(agency)s. "
    "Ask your agency's Gaung admin to add this e-mail address, then try again."
)
NOT_VERIFIED = N_(
    "Your identity provider has not verified the e-mail address of this account. "
    "Verify it there first, then try again."
)


def secret_env_name(slug: str) -> str:
    """The environment variable holding an agency's client secret (slug upper-cased,
    anything but letters and digits as ``_``): ``bkn-pusat`` -> ``GAUNG_OIDC__BKN_PUSAT__…``."""
    return f"GAUNG_OIDC__{re.sub(r'[^A-Z0-9]', '_', slug.upper())}__CLIENT_SECRET"


def client_secret(slug: str) -> str | None:
    """The agency's client secret from the environment; None makes Gaung a public client."""
    return os.environ.get(secret_env_name(slug)) or None


def normalise_issuer(value: str) -> str:
    """The issuer URL as stored: trimmed, without a trailing slash; https, or http on
    this machine only. Keycloak's form is ``https://host/realms/<realm>`` (before
    Keycloak 17: ``https://host/auth/realms/<realm>``)."""
    issuer = value.strip().rstrip("/")
    try:
        parts = urlsplit(issuer)
        host = parts.hostname or ""
    except ValueError:
        raise GaungError(
            N_("Enter the issuer URL, e.g. %(example)s."),
            field="issuer",
            example="https://sso.example.go.id/realms/asn",
        ) from None
    if parts.query or parts.fragment or parts.username or not host:
        raise GaungError(
            N_("Enter the issuer URL, e.g. %(example)s."),
            field="issuer",
            example="https://sso.example.go.id/realms/asn",
        )
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(host)):
        raise GaungError(N_("The issuer URL must start with https://."), field="issuer")
    if len(issuer) > 500:
        raise GaungError(N_("The issuer URL is too long."), field="issuer")
    return issuer


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_domains(value: str) -> str:
    """Domains as stored: lower case, without '@', space-separated; GaungError otherwise."""
    found: list[str] = []
    for raw in re.split(r"[\s,;]+", value.strip().lower()):
        domain = raw.lstrip("@")
        if not domain:
            continue
        if not _DOMAIN.match(domain):
            raise GaungError(N_("%(domain)s is not an e-mail domain."), field="domains", domain=raw)
        if domain not in found:
            found.append(domain)
    stored = " ".join(found)
    if len(stored) > 500:
        raise GaungError(N_("Too many e-mail domains."), field="domains")
    return stored


def get(session: Session, agency_id: int) -> AgencySso | None:
    return session.get(AgencySso, agency_id)


def by_slug(session: Session, slug: str) -> tuple[Agency, AgencySso] | None:
    """The agency with this slug and its provider, or None when either is missing."""
    agency = session.exec(select(Agency).where(Agency.slug == slug)).first()
    if agency is None or agency.id is None:
        return None
    config = get(session, agency.id)
    return (agency, config) if config is not None else None


def configured(session: Session) -> list[Agency]:
    """Agencies with a provider, by name (the sign-in page offers one button each)."""
    statement = (
        select(Agency)
        .join(AgencySso, AgencySso.agency_id == Agency.id)  # type: ignore[arg-type]
        .order_by(Agency.name)
    )
    return list(session.exec(statement).all())


def _check_actor(actor: User | None, agency: Agency) -> None:
    """None is an operator at the command line; a person must be this agency's admin."""
    if actor is not None and (actor.role != Role.ADMIN or actor.agency_id != agency.id):
        raise ForbiddenError(N_("Only an admin of the agency can change its single sign-on."))


def configure(
    session: Session,
    actor: User | None,
    agency: Agency,
    *,
    issuer: str,
    client_id: str,
    allow_self_registration: bool = False,
    domains: str = "",
) -> AgencySso:
    """Set (or replace) the agency's provider; audited; commits."""
    _check_actor(actor, agency)
    assert agency.id is not None
    issuer = normalise_issuer(issuer)
    client_id = client_id.strip()
    if not client_id or len(client_id) > 200 or any(ch.isspace() for ch in client_id):
        raise GaungError(N_("Enter the client id registered at the provider."), field="client_id")
    stored_domains = parse_domains(domains)
    config = get(session, agency.id) or AgencySso(agency_id=agency.id, issuer="", client_id="")
    config.issuer, config.client_id = issuer, client_id
    config.allow_self_registration = allow_self_registration
    config.self_registration_domains = stored_domains
    config.updated_at, config.updated_by = utcnow(), actor.id if actor else None
    session.add(config)
    detail = (
        f"issuer={issuer} client_id={client_id} "
        f"self_registration={'on' if allow_self_registration else 'off'}"
        + (f" domains={stored_domains}" if stored_domains else "")
    )
    audit.record(
        session,
        actor=actor,
        action="sso.configured",
        entity="agency",
        entity_id=agency.id,
        agency_id=agency.id,
        detail=detail,
    )
    session.commit()
    return config


def remove(session: Session, actor: User | None, agency: Agency) -> bool:
    """Turn the agency's single sign-on off; audited; commits. False when it was off."""
    _check_actor(actor, agency)
    assert agency.id is not None
    config = get(session, agency.id)
    if config is None:
        return False
    session.delete(config)
    audit.record(
        session,
        actor=actor,
        action="sso.removed",
        entity="agency",
        entity_id=agency.id,
        agency_id=agency.id,
        detail=f"issuer={config.issuer}",
    )
    session.commit()
    return True


def claimed_email(claims: Mapping[str, Any]) -> str:
    email = claims.get("email")
    return email.strip() if isinstance(email, str) else ""


def staff_for_identity(
    session: Session, agency: Agency, config: AgencySso, claims: Mapping[str, Any]
) -> User:
    """The active staff account of ``agency`` the validated ID token's claims name.

    Raises :class:`Refusal` (nothing written) unless the provider verified the e-mail
    (``email_verified`` exactly ``true``) and it belongs to an active staff member of this
    agency, or the agency allows self-registration (then a new supervisor is added,
    audited; the caller commits).
    """
    email = claimed_email(claims)
    if not email:
        raise Refusal("no_email", NOT_VERIFIED)
    if claims.get("email_verified") is not True:
        raise Refusal("email_not_verified", NOT_VERIFIED, email)
    key = email_key(email)
    user = session.exec(select(User).where(func.lower(User.email) == key)).first()
    if user is not None:
        # Inactive, or staff of another agency: the same answer as an unknown address.
        if user.agency_id != agency.id or not user.active:
            raise Refusal("not_staff", NOT_STAFF, email)
        return user
    domain = key.rpartition("@")[2]
    if not config.allow_self_registration or (config.domains and domain not in config.domains):
        raise Refusal("unknown_email", NOT_STAFF, email)
    try:
        address = normalise_email(email)
    except GaungError:
        raise Refusal("unknown_email", NOT_STAFF, email) from None
    name = claims.get("name")
    user = User(
        email=address,
        name=(name.strip() if isinstance(name, str) and name.strip() else address)[:200],
        # No password: this person signs in through the agency's provider. A random one
        # nobody knows keeps the column's meaning (an argon2 hash) for every other path.
        password_hash=hash_password(secrets.token_urlsafe(32)),
        role=Role.SUPERVISOR,
        agency_id=agency.id or 0,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="user.self_registered",
        entity="user",
        entity_id=user.id,
        agency_id=agency.id,
        detail=f"supervisor through single sign-on ({config.issuer})",
    )
    return user
