"""An optional second factor for staff: time-based one-time codes (TOTP, RFC 6238).

Enrolment stores a new secret (encrypted at rest: gaung.crypto.EncryptedString) and shows
it as a QR code; the factor is only in force once the person confirms a code from their
app, so a half-finished enrolment never locks anyone out. A code is accepted in the
30-second step it belongs to or the one either side (clock drift), and never twice: the
last accepted step is stored and anything up to it is refused.

An agency may require the factor of its admins and approvers (``require_two_factor``):
they are then asked to enrol at their next sign-in and may not turn it off.
"""

from __future__ import annotations

import io
import re

import pyotp
import segno
from sqlmodel import Session

from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from kernel import audit
from roster.models import Agency, Role, User
from roster.security import verify_password

ISSUER = "Gaung"
DRIFT_STEPS = 1
REQUIRED_ROLES = frozenset({Role.ADMIN, Role.APPROVER})
_CODE = re.compile(r"^\d{6}$")


def enabled(user: User) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def required(user: User, agency: Agency | None) -> bool:
    """Whether the agency makes this person use a second factor."""
    return bool(agency and agency.require_two_factor and user.role in REQUIRED_ROLES)


def _record(session: Session, actor: User, action: str, user: User) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="user",
        entity_id=user.id,
        agency_id=user.agency_id,
    )


def begin(session: Session, user: User) -> str:
    """A fresh secret waiting for confirmation (replaces an unconfirmed one). Commits."""
    if enabled(user):
        raise GaungError(N_("Two-step sign-in is already on."), field="code")
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    session.add(user)
    session.commit()
    return user.totp_secret


def provisioning_uri(user: User, agency: Agency | None) -> str:
    assert user.totp_secret
    issuer = f"{ISSUER} {agency.slug}" if agency else ISSUER
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code as an inline SVG element (no script, no style: CSP-safe)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer,
        kind="svg",
        scale=5,
        border=2,
        xmldecl=False,
        svgns=True,
        svgclass="qr",
        title="QR",
        dark="#000",
        light="#fff",
    )
    return buffer.getvalue().decode()


def _clean(code: str) -> str:
    return "".join(code.split())


def check_code(user: User, code: str) -> bool:
    """Accept a code of the current step (or one either side) not used before.

    Records the accepted step on the user (no commit): the same code is refused next time.
    """
    code = _clean(code)
    if not user.totp_secret or not _CODE.match(code):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = utcnow()
    current = totp.timecode(now)
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        step = current + offset
        if pyotp.utils.strings_equal(totp.at(now, counter_offset=offset), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            return True
    return False


def confirm(session: Session, user: User, code: str) -> None:
    """Turn the factor on with a code from the new secret. Audited; commits."""
    if enabled(user):
        raise GaungError(N_("Two-step sign-in is already on."), field="code")
    if not user.totp_secret:
        raise GaungError(N_("Start the set-up again."), field="code")
    if not check_code(user, code):
        raise GaungError(
            N_("That code is not right. Enter the 6 digits your app shows now."), field="code"
        )
    user.totp_enabled_at = utcnow()
    session.add(user)
    _record(session, user, "user.two_factor_enabled", user)
    session.commit()


def disable(session: Session, user: User, agency: Agency | None, password: str) -> None:
    """Turn one's own factor off (password required; not when the agency requires it)."""
    if required(user, agency):
        raise GaungError(
            N_("Your agency requires two-step sign-in for your role."), field="password"
        )
    if not verify_password(user.password_hash, password):
        raise GaungError(N_("The current password is not correct."), field="password")
    _clear(user)
    session.add(user)
    _record(session, user, "user.two_factor_disabled", user)
    session.commit()


def reset(session: Session, actor: User, user_id: int) -> User:
    """An admin removes a staff member's factor (a lost phone): they enrol again. Commits."""
    if not actor.active or actor.role != Role.ADMIN:
        raise ForbiddenError(N_("Your role does not allow this action."))
    user = session.get(User, user_id)
    if user is None or user.agency_id != actor.agency_id:
        raise NotFoundError(N_("This staff member does not exist."))
    _clear(user)
    session.add(user)
    _record(session, actor, "user.two_factor_reset", user)
    session.commit()
    return user


def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
