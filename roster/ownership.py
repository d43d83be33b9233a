"""Ownership of an enrolled account: a one-time code the ASN publishes, checked by a job.

Per account Gaung issues a short code (``GAUNG-7K3Q9``, valid ``CODE_TTL``). The ASN puts
it in their bio (X description, Instagram biography, a Facebook Page's "about") or, for a
Facebook profile, in a public post whose link they submit. "Check" queues an
``ownership_check`` work item: the platform is never called inside a web request.

The job (``scheduler.ownership.run_check``) looks the account up through the platform
channel and, when the code is there, records the platform user id, followers and
``ownership_verified_at``. An account (platform user id) someone else already enrolled is
refused. When the platform cannot be read (no credentials, a personal Facebook profile, a
personal Instagram account) the check waits for Humas, who confirms by hand
(``confirm_manually``, audited). A rate limit puts the job back at the platform's reset
time.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from kernel import audit, queue
from kernel.limits import display_name
from roster.models import Asn, OwnershipCheck, OwnershipState, Role, SocialAccount, User

CODE_PREFIX = "GAUNG-"
# No 0/O, 1/I/L: the code is read off a phone and typed into a bio.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 5
CODE_TTL = timedelta(hours=48)
JOB_KIND = "ownership_check"
PROOF_URL_MAX = 500
MANAGERS = frozenset({Role.EDITOR, Role.APPROVER, Role.ADMIN})
MAX_FOLLOWERS = 2**31 - 1

# English msgids explaining each outcome; "%(platform)s" is filled in where shown.
DETAIL_CHECKING = N_("Checking your %(platform)s account…")
DETAIL_VERIFIED = N_("Verified: this %(platform)s account is yours.")
DETAIL_CONFIRMED = N_("Confirmed by Humas.")
DETAIL_NOT_IN_BIO = N_(
    "The code was not found in your %(platform)s bio. Put it in your bio, save, then check again."
)
DETAIL_NOT_IN_POST = N_(
    "The code was not found in that %(platform)s post. Check the link and the post's text."
)
DETAIL_WRONG_AUTHOR = N_("That post is not from the %(platform)s account you enrolled.")
DETAIL_MANUAL = N_(
    "%(platform)s cannot be checked automatically. Humas will check your account by hand."
)
DETAIL_TAKEN = N_("This %(platform)s account is already enrolled by someone else.")
DETAIL_GONE = N_("This account was not found on %(platform)s. Check the username.")
DETAIL_ERROR = N_("%(platform)s could not be reached. Try the check again later.")
DETAIL_EXPIRED = N_("The code has expired. Ask for a new code.")


def new_code() -> str:
    return CODE_PREFIX + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_found(code: str, text: str | None) -> bool:
    """Whether ``text`` holds the code; case and the hyphen are forgiven (bios get retyped)."""
    if not text:
        return False
    suffix = code.removeprefix(CODE_PREFIX)
    # Text glued on either side still counts: the random suffix is the proof.
    pattern = rf"GAUNG[\s\-]?{re.escape(suffix)}"
    return re.search(pattern, text.upper()) is not None


def is_expired(check: OwnershipCheck, now: datetime | None = None) -> bool:
    return check.expires_at <= (now or utcnow())


def issue_code(session: Session, account: SocialAccount) -> OwnershipCheck:
    """A fresh code for the account (replacing any earlier one); no commit."""
    assert account.id is not None
    check = session.exec(
        select(OwnershipCheck).where(OwnershipCheck.account_id == account.id)
    ).first() or OwnershipCheck(account_id=account.id, code="", expires_at=utcnow())
    check.code = new_code()
    check.expires_at = utcnow() + CODE_TTL
    check.state = OwnershipState.WAITING
    check.detail = ""
    check.proof_url = None
    session.add(check)
    return check


def checks_for(session: Session, account_ids: list[int]) -> dict[int, OwnershipCheck]:
    if not account_ids:
        return {}
    query = select(OwnershipCheck).where(col(OwnershipCheck.account_id).in_(account_ids))
    return {check.account_id: check for check in session.exec(query)}


def _own_account(session: Session, asn: Asn, account_id: int) -> SocialAccount:
    account = session.get(SocialAccount, account_id)
    if account is None or account.asn_id != asn.id:
        raise NotFoundError(N_("This account does not exist."))
    return account


def renew_code(session: Session, asn: Asn, account_id: int) -> OwnershipCheck:
    """The ASN asks for a new code (the old one expired or leaked); commits."""
    account = _own_account(session, asn, account_id)
    if account.ownership_verified_at is not None:
        raise GaungError(N_("This account is already verified."))
    check = issue_code(session, account)
    session.commit()
    return check


def _proof_url(platform: str, value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if platform != "facebook":
        raise GaungError(N_("A post link is only used for Facebook."), field="proof_url")
    if len(text) > PROOF_URL_MAX or not re.match(r"https?://([a-z]+\.)?(facebook|fb)\.com/", text):
        raise GaungError(N_("Paste the link of your Facebook post."), field="proof_url")
    return text


def request_check(
    session: Session, asn: Asn, account_id: int, proof_url: str = ""
) -> OwnershipCheck:
    """Queue a check of the account (once while one is pending); commits."""
    account = _own_account(session, asn, account_id)
    if account.ownership_verified_at is not None:
        raise GaungError(N_("This account is already verified."))
    check = checks_for(session, [account_id]).get(account_id) or issue_code(session, account)
    if is_expired(check):
        raise GaungError(DETAIL_EXPIRED)
    proof = _proof_url(account.platform, proof_url)
    if check.state == OwnershipState.CHECKING and proof == check.proof_url:
        return check  # already queued: a second click costs no second platform call
    check.proof_url = proof
    check.requests += 1
    check.state = OwnershipState.CHECKING
    check.detail = DETAIL_CHECKING
    session.add(check)
    queue.enqueue(
        session,
        kind=JOB_KIND,
        key=f"ownership:{account_id}:{check.requests}",
        payload={"account_id": account_id},
        run_at=utcnow(),
    )
    session.commit()
    return check


# --- recording a check's outcome (the job is scheduler.ownership) --------------------


def finish(session: Session, check: OwnershipCheck, state: str, detail: str) -> str:
    check.state = state
    check.detail = detail
    check.checked_at = utcnow()
    session.add(check)
    session.commit()
    return state


def record_owner(
    session: Session,
    account: SocialAccount,
    user_id: str,
    followers: int | None,
) -> tuple[str, str]:
    """Record the proven account, unless another person already enrolled it."""
    if user_id and _taken_by_other(session, account, user_id):
        return OwnershipState.TAKEN, DETAIL_TAKEN
    now = utcnow()
    account.platform_user_id = user_id or account.platform_user_id
    if followers is not None:
        account.followers = min(followers, MAX_FOLLOWERS)
        account.followers_at = now
    account.ownership_verified_at = now
    session.add(account)
    return OwnershipState.VERIFIED, DETAIL_VERIFIED


def _taken_by_other(session: Session, account: SocialAccount, user_id: str) -> bool:
    query = select(SocialAccount.id).where(
        SocialAccount.platform == account.platform,
        SocialAccount.platform_user_id == user_id,
        SocialAccount.id != account.id,
    )
    return session.exec(query).first() is not None


# --- Humas by hand -----------------------------------------------------------------------


def confirm_manually(
    session: Session,
    actor: User,
    account_id: int,
    *,
    followers: int | None,
    user_id: str = "",
) -> SocialAccount:
    """Humas looked at the account (or the post) and confirms it is the ASN's; audited."""
    if not actor.active or actor.role not in MANAGERS:
        raise ForbiddenError(N_("Your role does not allow this action."))
    account = session.get(SocialAccount, account_id)
    asn = session.get(Asn, account.asn_id) if account else None
    if account is None or asn is None or asn.agency_id != actor.agency_id:
        raise NotFoundError(N_("This account does not exist."))
    if followers is not None and not 0 <= followers <= MAX_FOLLOWERS:
        raise GaungError(N_("Followers must be a whole number of zero or more."), field="followers")
    user_id = user_id.strip()
    if len(user_id) > 64 or " " in user_id:
        raise GaungError(N_("A user id has no spaces and at most 64 characters."), field="user_id")
    if user_id and _taken_by_other(session, account, user_id):
        raise GaungError(DETAIL_TAKEN, field="user_id", platform=display_name(account.platform))
    record_owner(session, account, user_id, followers)
    check = checks_for(session, [account_id]).get(account_id)
    if check is not None:
        check.state, check.detail, check.checked_at = (
            OwnershipState.VERIFIED,
            DETAIL_CONFIRMED,
            utcnow(),
        )
        session.add(check)
    audit.record(
        session,
        actor=actor,
        action="account.ownership_confirmed",
        entity="social_account",
        entity_id=account.id,
        agency_id=actor.agency_id,
        detail=f"asn {asn.id}; {account.platform}; followers {followers}",
    )
    session.commit()
    return account
