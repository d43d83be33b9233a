"""Self-enrolment: invitation links, the enrolment form's rules, and Humas' review.

The flow: Humas creates an invitation link for the agency (or one unit) and shares it; an
ASN opens ``/enrol/{token}``, gives their NIP, name, unit, messenger and one account per
platform, and agrees to the consent text (``CONSENT_VERSION``). They become a PENDING ASN
with an ownership code per account (roster.ownership). Humas then approves or rejects the
enrolment with a reason, and may later suspend and re-activate; every decision is audited.

Service functions follow content.workflow's rules: role first (ForbiddenError), then the
agency (another agency's ASN is NotFoundError, like a missing one), validate everything,
change, audit, commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, or_, select

from gaung import i18n
from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from gaung.fields import NipError, check_nip, normalise_email, normalise_handle, normalise_phone
from gaung.settings import PLATFORMS, get_settings
from kernel import audit
from kernel.limits import display_name
from kernel.outbox import ADDRESS_FIELD, INBOX_LINK, PERSON_MESSENGERS, OutboxMessage, OutboxStatus
from roster import ownership
from roster.models import Agency, Asn, AsnStatus, Invitation, Role, SocialAccount, Unit, User

# Bump when the consent text below changes: a form opened on the old text is refused.
CONSENT_VERSION = "2026-11"
CONSENT_POINTS = (
    N_(
        "What Gaung collects: your NIP, name, unit, how to reach you (e-mail, Telegram or "
        "WhatsApp) and the usernames of the social media accounts you enrol."
    ),
    N_(
        "What Gaung checks: that each account is yours (a one-time code in its bio or in a "
        "post), its number of followers, and whether you reposted the campaign posts you "
        "were assigned. It never asks for your passwords and never posts for you."
    ),
    N_(
        "What for: sending you official posts to share, counting the reach of each campaign, "
        "and showing the public that your accounts are official ASN influencer accounts "
        "(agency and date only, never your name or NIP)."
    ),
    N_(
        "Your rights: you can see and download everything Gaung holds about you and leave at "
        "any time from your inbox; leaving erases your personal data (Law 27/2022 on "
        "Personal Data Protection)."
    ),
)
# Why a phone number is required, for each messenger that reaches people by phone
# (ADDRESS_FIELD "phone"); the roster import and the inbox settings say the same.
PHONE_NEEDED = {
    "whatsapp": N_("A phone number is needed to send messages by WhatsApp."),
    "webhook": N_("A phone number is needed to send messages by SMS (your agency's gateway)."),
}
REVIEWERS = frozenset({Role.EDITOR, Role.APPROVER, Role.ADMIN})
NAME_MAX = 200
REASON_MAX = 500
LABEL_MAX = 200
INVITATION_MAX_DAYS = 365


# --- invitations -------------------------------------------------------------------------


def _require_reviewer(actor: User) -> None:
    if not actor.active or actor.role not in REVIEWERS:
        raise ForbiddenError(N_("Your role does not allow this action."))


def invitation_url(invitation: Invitation) -> str:
    return f"{get_settings().base_url.rstrip('/')}/enrol/{invitation.token}"


def create_invitation(
    session: Session,
    actor: User,
    *,
    unit_id: int | None = None,
    label: str = "",
    valid_days: int | None = None,
) -> Invitation:
    """A new enrolment link for the actor's agency, or for one of its units."""
    _require_reviewer(actor)
    label = label.strip()
    if len(label) > LABEL_MAX:
        raise GaungError(N_("At most %(limit)s characters."), field="label", limit=LABEL_MAX)
    if unit_id is not None:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.agency_id != actor.agency_id:
            raise GaungError(N_("Choose a unit of your agency."), field="unit_id")
    expires_at = None
    if valid_days is not None:
        if not 1 <= valid_days <= INVITATION_MAX_DAYS:
            raise GaungError(
                N_("Valid for 1 to %(limit)s days, or leave it empty for no expiry."),
                field="valid_days",
                limit=INVITATION_MAX_DAYS,
            )
        expires_at = utcnow() + timedelta(days=valid_days)
    invitation = Invitation(
        agency_id=actor.agency_id,
        unit_id=unit_id,
        token=secrets.token_urlsafe(24),
        label=label,
        expires_at=expires_at,
        created_by=actor.id,
    )
    session.add(invitation)
    session.flush()
    detail = f"unit {unit_id}" if unit_id else "whole agency"
    _audit(session, actor, "invitation.created", "invitation", invitation.id, detail)
    session.commit()
    return invitation


def revoke_invitation(session: Session, actor: User, invitation_id: int) -> Invitation:
    _require_reviewer(actor)
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.agency_id != actor.agency_id:
        raise NotFoundError(N_("This invitation does not exist."))
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        invitation.revoked_by = actor.id
        session.add(invitation)
        _audit(session, actor, "invitation.revoked", "invitation", invitation.id)
        session.commit()
    return invitation


def list_invitations(session: Session, agency_id: int) -> list[Invitation]:
    query = (
        select(Invitation)
        .where(Invitation.agency_id == agency_id)
        .order_by(col(Invitation.created_at).desc(), col(Invitation.id).desc())
    )
    return list(session.exec(query))


def is_open(invitation: Invitation, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return invitation.revoked_at is None and (
        invitation.expires_at is None or invitation.expires_at > now
    )


def open_invitation(session: Session, token: str) -> Invitation:
    """The invitation behind a link; NotFoundError when unknown, revoked or expired."""
    invitation = session.exec(select(Invitation).where(Invitation.token == token)).first()
    if invitation is None or not is_open(invitation):
        raise NotFoundError(
            N_("This enrolment link is not valid (any more). Ask your Humas team for a new one.")
        )
    return invitation


# --- the enrolment form ------------------------------------------------------------------


@dataclass
class EnrolmentForm:
    nip: str = ""
    name: str = ""
    unit_id: int | None = None
    messenger: str = "email"
    email: str = ""
    phone: str = ""
    handles: dict[str, str] = field(default_factory=dict)
    consent: bool = False
    consent_version: str = ""
    locale: str = "id"


class EnrolmentInvalid(GaungError):  # noqa: N818 - reads as a state, like the others
    """The form has errors; ``errors`` maps each field to its error. Nothing was saved."""

    def __init__(self, errors: dict[str, GaungError]) -> None:
        super().__init__(N_("Please correct the marked fields."))
        self.errors = errors


@dataclass(frozen=True)
class _Clean:
    nip: str
    name: str
    unit_id: int
    messenger: str
    email: str | None
    phone: str | None
    handles: dict[str, str]


def _check_fields(
    session: Session, invitation: Invitation, form: EnrolmentForm, errors: dict[str, GaungError]
) -> _Clean | None:
    """Every format rule; fills ``errors`` and returns the clean values when all pass."""
    nip = None
    try:
        nip = check_nip(form.nip)
    except NipError as exc:
        errors["nip"] = exc
    name = " ".join(form.name.split())
    if not name:
        errors["name"] = GaungError(N_("Enter your full name."), field="name")
    elif len(name) > NAME_MAX:
        errors["name"] = GaungError(N_("At most %(limit)s characters."), limit=NAME_MAX)
    unit_id = invitation.unit_id or _unit_of_agency(session, invitation, form.unit_id, errors)
    messenger = form.messenger if form.messenger in PERSON_MESSENGERS else ""
    if not messenger:
        errors["messenger"] = GaungError(N_("Choose how Gaung should reach you."))
    email, phone = _check_contact(form, messenger, errors)
    handles = _check_handles(form, errors)
    _check_consent(form, errors)
    if errors or nip is None or unit_id is None:
        return None
    return _Clean(nip, name, unit_id, messenger, email, phone, handles)


def _check_contact(
    form: EnrolmentForm, messenger: str, errors: dict[str, GaungError]
) -> tuple[str | None, str | None]:
    """(e-mail, phone) in their stored form; either is required by some messengers."""
    email = phone = None
    if form.email.strip():
        try:
            email = normalise_email(form.email)
        except GaungError as exc:
            errors["email"] = exc
    elif messenger == "email":
        errors["email"] = GaungError(N_("An e-mail address is needed to send messages by e-mail."))
    if form.phone.strip():
        try:
            phone = normalise_phone(form.phone)
        except GaungError as exc:
            errors["phone"] = exc
    elif messenger in PHONE_NEEDED:
        errors["phone"] = GaungError(PHONE_NEEDED[messenger])
    return email, phone


def _unit_of_agency(
    session: Session, invitation: Invitation, unit_id: int | None, errors: dict[str, GaungError]
) -> int | None:
    unit = session.get(Unit, unit_id) if unit_id else None
    if unit is None or unit.agency_id != invitation.agency_id:
        errors["unit_id"] = GaungError(N_("Choose your unit."))
        return None
    return unit_id


def _check_handles(form: EnrolmentForm, errors: dict[str, GaungError]) -> dict[str, str]:
    handles: dict[str, str] = {}
    for platform in PLATFORMS:
        value = form.handles.get(platform, "").strip()
        if not value:
            continue
        try:
            handles[platform] = normalise_handle(platform, value)
        except GaungError as exc:
            errors[f"{platform}_handle"] = exc
    if not handles and not any(f"{p}_handle" in errors for p in PLATFORMS):
        errors["accounts"] = GaungError(N_("Enter at least one social media account."))
    return handles


def _check_consent(form: EnrolmentForm, errors: dict[str, GaungError]) -> None:
    if not form.consent:
        errors["consent"] = GaungError(
            N_("You can only enrol after agreeing to the consent statement.")
        )
    elif form.consent_version != CONSENT_VERSION:
        errors["consent"] = GaungError(
            N_("The consent statement has changed since you opened the form. Please read it again.")
        )


def _check_taken(session: Session, clean: _Clean, errors: dict[str, GaungError]) -> None:
    """Refuse a NIP, e-mail address or account someone already enrolled."""
    if session.exec(select(Asn.id).where(Asn.nip == clean.nip)).first() is not None:
        errors["nip"] = GaungError(
            N_("This NIP is already enrolled. If it is yours, contact your Humas team.")
        )
    if clean.email is not None:
        taken = select(Asn.id).where(func.lower(Asn.email) == clean.email)
        if session.exec(taken).first() is not None:
            errors["email"] = GaungError(
                N_("This e-mail address is already used by another enrolled person.")
            )
    for platform, handle in clean.handles.items():
        if account_taken(session, platform, handle):
            errors[f"{platform}_handle"] = GaungError(
                N_("This %(platform)s account is already enrolled by someone else."),
                platform=display_name(platform),
            )


def account_taken(
    session: Session, platform: str, handle: str, *, except_asn: int | None = None
) -> bool:
    query = select(SocialAccount.id).where(
        SocialAccount.platform == platform, SocialAccount.handle == handle
    )
    if except_asn is not None:
        query = query.where(SocialAccount.asn_id != except_asn)
    return session.exec(query).first() is not None


def enrol(session: Session, invitation: Invitation, form: EnrolmentForm) -> Asn:
    """Create the PENDING ASN, their accounts and ownership codes; commit.

    EnrolmentInvalid lists every field error and saves nothing.
    """
    if not is_open(invitation):
        raise NotFoundError(
            N_("This enrolment link is not valid (any more). Ask your Humas team for a new one.")
        )
    errors: dict[str, GaungError] = {}
    clean = _check_fields(session, invitation, form, errors)
    if clean is not None:
        _check_taken(session, clean, errors)
    if errors or clean is None:
        raise EnrolmentInvalid(errors)
    try:
        asn = _create(session, invitation, clean, form.locale)
        session.commit()
    except IntegrityError as exc:
        # Someone enrolled the same NIP, e-mail or account between our check and commit.
        session.rollback()
        raced = GaungError(
            N_("Someone enrolled the same NIP, e-mail or account a moment ago. Please check.")
        )
        raise EnrolmentInvalid({"form": raced}) from exc
    except BaseException:
        session.rollback()
        raise
    return asn


def _create(session: Session, invitation: Invitation, clean: _Clean, locale: str) -> Asn:
    now = utcnow()
    asn = Asn(
        agency_id=invitation.agency_id,
        unit_id=clean.unit_id,
        nip=clean.nip,
        name=clean.name,
        email=clean.email,
        phone=clean.phone,
        messenger=clean.messenger,
        status=AsnStatus.PENDING,
        consent_at=now,
        consent_version=CONSENT_VERSION,
        invitation_id=invitation.id,
        locale=i18n.coerce_locale(locale) or get_settings().default_locale,
    )
    session.add(asn)
    session.flush()
    assert asn.id is not None
    for platform, handle in clean.handles.items():
        account = SocialAccount(asn_id=asn.id, platform=platform, handle=handle)
        session.add(account)
        session.flush()
        ownership.issue_code(session, account)
    audit.record(
        session,
        actor=None,
        action="asn.enrolled",
        entity="asn",
        entity_id=asn.id,
        agency_id=asn.agency_id,
        detail=f"invitation {invitation.id}; consent {CONSENT_VERSION}",
    )
    queue_sign_in_message(session, asn, key=f"enrol:{asn.id}", welcome=True)
    return asn


# --- the sign-in message -----------------------------------------------------------------


def sign_in_channel(asn: Asn) -> tuple[str, str] | None:
    """(messenger, address) to send a sign-in link by, or None when there is none.

    WhatsApp only carries approved templates, and Gaung's one template is the assignment
    notice, so a WhatsApp person gets their link by e-mail when they gave an address.
    """
    if asn.messenger in ("email", "telegram"):
        address = getattr(asn, ADDRESS_FIELD[asn.messenger])
        if address:
            return asn.messenger, str(address)
    if asn.email:
        return "email", asn.email
    return None


def queue_sign_in_message(session: Session, asn: Asn, *, key: str, welcome: bool) -> bool:
    """Queue a message with the ASN's personal sign-in link (minted at send time).

    Returns False when there is no channel to send it by, or a message with ``key``
    already exists (one per key: a double click sends once).
    """
    channel = sign_in_channel(asn)
    if channel is None or asn.id is None:
        return False
    if session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key)).first():
        return False
    agency = session.get(Agency, asn.agency_id)
    if welcome:
        subject_id = N_("Your Gaung enrolment")
        intro_id = N_("Thank you for enrolling as an ASN influencer of %(agency)s.")
    else:
        subject_id = N_("Your Gaung sign-in link")
        intro_id = N_("Here is your personal link to Gaung for %(agency)s.")
    with i18n.use_locale(asn.locale):
        subject = i18n.gettext(subject_id)
        intro = i18n.gettext(intro_id) % {"agency": agency.name if agency else ""}
        step = i18n.gettext(
            "Open your personal link to prove that your social media accounts are yours "
            "and to follow your enrolment:"
        )
        warning = i18n.gettext("The link signs you in without a password: do not share it.")
        hello = i18n.gettext("Hello %(name)s,") % {"name": asn.name}
    text = f"{hello}\n\n{intro}\n{step}\n\n{INBOX_LINK}\n\n{warning}\n"
    session.add(
        OutboxMessage(
            key=key,
            asn_id=asn.id,
            messenger=channel[0],
            recipient=channel[1],
            subject=subject,
            text=text,
            status=OutboxStatus.QUEUED,
        )
    )
    return True


def send_sign_in_link(session: Session, actor: User, asn_id: int) -> bool:
    """Humas sends an ASN their sign-in link (at most once a day); audited; commits."""
    _require_reviewer(actor)
    asn = get_asn(session, actor, asn_id)
    if asn.status not in (AsnStatus.ACTIVE, AsnStatus.PENDING):
        raise GaungError(N_("Only active or pending ASN can be sent a sign-in link."))
    if sign_in_channel(asn) is None:
        raise GaungError(N_("There is no e-mail address or Telegram chat to send the link to."))
    key = f"signin:{asn.id}:{utcnow().date().isoformat()}"
    queued = queue_sign_in_message(session, asn, key=key, welcome=False)
    if queued:
        _audit(session, actor, "asn.sign_in_link_sent", "asn", asn.id)
        session.commit()
    return queued


# --- review ------------------------------------------------------------------------------


def get_asn(session: Session, actor: User, asn_id: int) -> Asn:
    """An ASN of the actor's agency; another agency's or a missing one: NotFoundError."""
    asn = session.get(Asn, asn_id)
    if asn is None or asn.agency_id != actor.agency_id:
        raise NotFoundError(N_("This ASN does not exist."))
    return asn


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise GaungError(N_("Give a reason; the person will see it."), field="reason")
    if len(text) > REASON_MAX:
        raise GaungError(N_("At most %(limit)s characters."), field="reason", limit=REASON_MAX)
    return text


def _decide(
    session: Session,
    actor: User,
    asn: Asn,
    status: str,
    action: str,
    note: str | None,
) -> Asn:
    now = utcnow()
    asn.status = status
    asn.reviewed_at = now
    asn.reviewed_by = actor.id
    asn.review_note = note
    if status == AsnStatus.ACTIVE and asn.approved_at is None:
        asn.approved_at = now
    session.add(asn)
    _audit(session, actor, action, "asn", asn.id, f"reason: {note}" if note else "")
    session.commit()
    return asn


def approve(session: Session, actor: User, asn_id: int) -> Asn:
    _require_reviewer(actor)
    asn = get_asn(session, actor, asn_id)
    if asn.status not in (AsnStatus.PENDING, AsnStatus.REJECTED):
        raise GaungError(N_("Only a pending or rejected enrolment can be approved."))
    if asn.consent_at is None:
        raise GaungError(N_("This person has not given consent, so they cannot be approved."))
    return _decide(session, actor, asn, AsnStatus.ACTIVE, "asn.approved", None)


def reject(session: Session, actor: User, asn_id: int, reason: str) -> Asn:
    _require_reviewer(actor)
    asn = get_asn(session, actor, asn_id)
    if asn.status != AsnStatus.PENDING:
        raise GaungError(N_("Only a pending enrolment can be rejected."))
    return _decide(session, actor, asn, AsnStatus.REJECTED, "asn.rejected", _reason(reason))


def suspend(session: Session, actor: User, asn_id: int, reason: str) -> Asn:
    _require_reviewer(actor)
    asn = get_asn(session, actor, asn_id)
    if asn.status != AsnStatus.ACTIVE:
        raise GaungError(N_("Only an active ASN can be suspended."))
    return _decide(session, actor, asn, AsnStatus.SUSPENDED, "asn.suspended", _reason(reason))


def reactivate(session: Session, actor: User, asn_id: int) -> Asn:
    _require_reviewer(actor)
    asn = get_asn(session, actor, asn_id)
    if asn.status != AsnStatus.SUSPENDED:
        raise GaungError(N_("Only a suspended ASN can be re-activated."))
    return _decide(session, actor, asn, AsnStatus.ACTIVE, "asn.reactivated", None)


def _audit(
    session: Session,
    actor: User,
    action: str,
    entity: str,
    entity_id: int | None,
    detail: str = "",
) -> None:
    # Ids and reasons only: names and NIPs stay out of the log, so erasing a person
    # (roster.privacy) leaves nothing personal behind in it.
    audit.record(
        session,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        agency_id=actor.agency_id,
        detail=detail,
    )


# --- lists for the console ---------------------------------------------------------------

PAGE_SIZE = 50


@dataclass(frozen=True)
class AsnPage:
    people: list[Asn]
    total: int
    page: int
    pages: int


def list_asn(
    session: Session,
    agency_id: int,
    *,
    status: str | None = None,
    unit_id: int | None = None,
    search: str = "",
    page: int = 1,
) -> AsnPage:
    """A page of the agency's ASN, newest first, filtered by status, unit and name/NIP."""
    query = select(Asn).where(Asn.agency_id == agency_id)
    if status:
        query = query.where(Asn.status == status)
    if unit_id:
        query = query.where(Asn.unit_id == unit_id)
    text = search.strip()
    if text:
        like = f"%{text.lower()}%"
        query = query.where(or_(func.lower(Asn.name).like(like), col(Asn.nip).like(f"{text}%")))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.exec(
        query.order_by(col(Asn.created_at).desc(), col(Asn.id).desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return AsnPage(list(rows), total, page, pages)


def status_counts(session: Session, agency_id: int) -> dict[str, int]:
    query = (
        select(Asn.status, func.count()).where(Asn.agency_id == agency_id).group_by(col(Asn.status))
    )
    return {status: count for status, count in session.exec(query)}


def accounts_of(session: Session, asn_ids: Sequence[int]) -> dict[int, list[SocialAccount]]:
    found: dict[int, list[SocialAccount]] = {asn_id: [] for asn_id in asn_ids}
    if not asn_ids:
        return found
    query = select(SocialAccount).where(col(SocialAccount.asn_id).in_(list(asn_ids)))
    order = {platform: n for n, platform in enumerate(PLATFORMS)}
    for account in sorted(session.exec(query), key=lambda a: order.get(a.platform, 99)):
        found[account.asn_id].append(account)
    return found
