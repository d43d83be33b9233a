"""Staff (``User`` rows): adding, inviting, roles, deactivation, one-time password links.

An agency's admin manages its staff (/console/staff); the operator does the same from the
command line (``gaung staff add``). The rules hold for both: every change is audited, and
an agency always keeps at least one active admin.

A new member without a password, or one who forgot theirs, gets a one-time link to set
one (``/account/set-password/{token}``): only the token's SHA-256 is stored, it expires,
it works once, and a newer link of the same kind replaces an older one. Using a reset
link also lifts a sign-in lockout of the account (kernel.throttle), so locking someone
out by guessing wrong never keeps them out for good. The link goes out by e-mail through
the ``staff_mail`` job when mail is set up (settings smtp); otherwise the console shows
it once to the admin, who passes it on.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, col, func, select

from gaung import i18n
from gaung.crypto import encrypt
from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from gaung.fields import email_key, normalise_email
from gaung.settings import get_settings
from kernel import audit, queue, throttle
from roster.models import Agency, Role, StaffToken, User
from roster.passwords import check_new_password, known_words
from roster.security import hash_password

ROLES = (Role.ADMIN, Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
# msgids naming each role to people.
ROLE_LABELS = {
    Role.ADMIN: N_("Admin"),
    Role.EDITOR: N_("Editor"),
    Role.APPROVER: N_("Approver"),
    Role.SUPERVISOR: N_("Supervisor"),
}
INVITE, RESET = "invite", "reset"
LIFETIMES = {INVITE: timedelta(days=7), RESET: timedelta(hours=24)}
MAIL_JOB = "staff_mail"
INVALID_LINK = N_("This link is invalid, used or expired. Ask your admin for a new one.")


def check_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise GaungError(
            N_("Choose a role: admin, editor, approver or supervisor."), field="role"
        ) from None


def check_staff_name(value: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise GaungError(N_("Enter the person's name."), field="name")
    if len(name) > 200:
        raise GaungError(N_("The name may have at most 200 characters."), field="name")
    return name


def require_admin(actor: User) -> None:
    if not actor.active or actor.role != Role.ADMIN:
        raise ForbiddenError(N_("Your role does not allow this action."))


def get_staff(session: Session, actor: User, user_id: int) -> User:
    """A staff member of the actor's agency; another agency's or a missing one: NotFoundError."""
    user = session.get(User, user_id)
    if user is None or user.agency_id != actor.agency_id:
        raise NotFoundError(N_("This staff member does not exist."))
    return user


def list_staff(session: Session, agency_id: int) -> list[User]:
    query = select(User).where(User.agency_id == agency_id)
    return list(session.exec(query.order_by(col(User.active).desc(), col(User.name))))


def by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(func.lower(User.email) == email_key(email))).first()


def _record(session: Session, actor: User | None, action: str, user: User, detail: str) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="user",
        entity_id=user.id,
        agency_id=user.agency_id,
        detail=detail,
    )


def add_staff(
    session: Session,
    agency: Agency,
    *,
    email: str,
    role: str,
    name: str = "",
    password: str | None = None,
    actor: User | None = None,
) -> User:
    """A new staff member (audited; no commit). Without a password they cannot sign in
    until they set one through an invitation link (:func:`issue_link`)."""
    if actor is not None:
        require_admin(actor)
    address = normalise_email(email)
    chosen = check_role(role)
    name = check_staff_name(name or address.split("@")[0])
    if by_email(session, address) is not None:
        raise GaungError(N_("%(email)s already has an account."), field="email", email=address)
    if password is not None:
        check_new_password(password, known=[address, name, agency.name])
    assert agency.id is not None
    user = User(
        email=address,
        name=name,
        # Not an argon2 hash: no password matches it until one is set.
        password_hash=hash_password(password) if password else f"!unset:{secrets.token_hex(8)}",
        role=chosen,
        agency_id=agency.id,
        locale=get_settings().default_locale,
    )
    session.add(user)
    session.flush()
    _record(session, actor, "user.created", user, f"role {chosen}")
    return user


# --- one-time links --------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/account/set-password/{token}"


def issue_link(
    session: Session, user: User, purpose: str, actor: User | None
) -> tuple[StaffToken, str]:
    """A new one-time link (the row and the raw token, never stored); older unused links of
    the same kind stop working. Audited; no commit."""
    assert user.id is not None
    assert purpose in LIFETIMES
    now = utcnow()
    for old in session.exec(
        select(StaffToken).where(
            StaffToken.user_id == user.id,
            StaffToken.purpose == purpose,
            col(StaffToken.used_at).is_(None),
        )
    ):
        old.used_at = now
        session.add(old)
    raw = secrets.token_urlsafe(32)
    row = StaffToken(
        user_id=user.id,
        purpose=purpose,
        token_hash=_digest(raw),
        expires_at=now + LIFETIMES[purpose],
        created_by=actor.id if actor else None,
    )
    session.add(row)
    session.flush()
    _record(
        session,
        actor,
        f"user.{purpose}_link_issued",
        user,
        f"valid until {row.expires_at:%Y-%m-%d %H:%M} UTC",
    )
    return row, raw


def mail_configured() -> bool:
    """Whether staff links go out by e-mail (an SMTP host and sender are set)."""
    smtp = get_settings().smtp
    return bool(smtp.host and smtp.sender)


def send_link(session: Session, actor: User | None, user: User, purpose: str) -> str | None:
    """Issue a link and queue it by e-mail (returns None), or, without mail, return its URL
    for the one who asked to pass on. Audited; commits."""
    if actor is not None:
        require_admin(actor)
    if not user.active:
        raise GaungError(N_("Reactivate this person first."), field="user")
    row, raw = issue_link(session, user, purpose, actor)
    if not mail_configured():
        session.commit()
        return link_url(raw)
    # The raw token rides encrypted in the job (gaung.crypto); it is never stored in clear.
    queue.enqueue(
        session,
        kind=MAIL_JOB,
        key=f"{MAIL_JOB}:{row.id}",
        payload={"token_id": row.id, "sealed": encrypt(raw)},
        run_at=utcnow(),
    )
    session.commit()
    return None


def link_message(user: User, agency: Agency | None, purpose: str, url: str) -> tuple[str, str]:
    """(subject, text) of the e-mail carrying a link, in the person's language."""
    with i18n.use_locale(user.locale):
        if purpose == INVITE:
            subject = i18n.gettext("Your Gaung account")
            intro = i18n.gettext(
                "An account was made for you in Gaung for %(agency)s. "
                "Open this link to choose your password:"
            ) % {"agency": agency.name if agency else ""}
        else:
            subject = i18n.gettext("Reset your Gaung password")
            intro = i18n.gettext(
                "A new password was asked for your Gaung account. Open this link to choose it:"
            )
        hours = int(LIFETIMES[purpose].total_seconds() // 3600)
        note = i18n.gettext(
            "The link works once, for %(hours)s hours. If you did not expect it, ignore it."
        ) % {"hours": hours}
        hello = i18n.gettext("Hello %(name)s,") % {"name": user.name}
    return subject, f"{hello}\n\n{intro}\n\n{url}\n\n{note}\n"


def open_link(session: Session, token: str) -> tuple[StaffToken, User] | None:
    """The unused, unexpired link and its active person, else None."""
    row = session.exec(select(StaffToken).where(StaffToken.token_hash == _digest(token))).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return row, user


def use_link(session: Session, token: str, *, password: str, confirm: str) -> User:
    """Set the password through a one-time link; lifts the account's sign-in lockout and
    ends its sessions. Audited; commits."""
    found = open_link(session, token)
    if found is None:
        raise GaungError(INVALID_LINK, field="token")
    row, user = found
    agency = session.get(Agency, user.agency_id)
    check_new_password(password, known=known_words(user, agency.name if agency else ""))
    if password != confirm:
        raise GaungError(N_("The two new passwords are not the same."), field="confirm_password")
    user.password_hash = hash_password(password)
    row.used_at = utcnow()
    session.add_all([user, row])
    throttle.reset_account(session, user.email)
    _record(session, user, f"user.password_set_by_{row.purpose}_link", user, "")
    session.commit()
    return user


# --- roles and deactivation ------------------------------------------------------------


def _active_admins(session: Session, agency_id: int) -> int:
    query = (
        select(func.count())
        .select_from(User)
        .where(User.agency_id == agency_id, User.role == Role.ADMIN, col(User.active).is_(True))
    )
    return int(session.exec(query).one())


def _keep_an_admin(session: Session, user: User) -> None:
    if user.role == Role.ADMIN and user.active and _active_admins(session, user.agency_id) <= 1:
        raise GaungError(
            N_("%(email)s is the last active admin of the agency. Make someone else admin first."),
            field="user",
            email=user.email,
        )


def change_role(session: Session, actor: User, user_id: int, role: str) -> User:
    require_admin(actor)
    user = get_staff(session, actor, user_id)
    chosen = check_role(role)
    if chosen == user.role:
        return user
    if chosen != Role.ADMIN:
        _keep_an_admin(session, user)
    before = user.role
    user.role = chosen
    session.add(user)
    _record(session, actor, "user.role_changed", user, f"{before} -> {chosen}")
    session.commit()
    return user


def deactivate(session: Session, actor: User, user_id: int) -> User:
    """Ends the person's sessions (roster.security) and their unused links."""
    require_admin(actor)
    user = get_staff(session, actor, user_id)
    if not user.active:
        return user
    _keep_an_admin(session, user)
    user.active = False
    now = utcnow()
    for link in session.exec(
        select(StaffToken).where(StaffToken.user_id == user.id, col(StaffToken.used_at).is_(None))
    ):
        link.used_at = now
        session.add(link)
    session.add(user)
    _record(session, actor, "user.deactivated", user, "")
    session.commit()
    return user


def reactivate(session: Session, actor: User, user_id: int) -> User:
    require_admin(actor)
    user = get_staff(session, actor, user_id)
    if user.active:
        return user
    user.active = True
    session.add(user)
    _record(session, actor, "user.reactivated", user, "")
    session.commit()
    return user
