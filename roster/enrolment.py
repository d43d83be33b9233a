"""Self-enrolment: the enrolment form, its checks and consent, and the PENDING ASN it makes.

The flow: Humas creates an invitation link (roster.invitations) and shares it; an ASN
opens ``/enrol/{token}``, gives their NIP, name, unit, messenger and one account per
platform, and agrees to the consent text (``CONSENT_VERSION``). They become a PENDING ASN
with an ownership code per account (roster.ownership) and get their sign-in link
(roster.sign_in). Humas then reviews the enrolment (roster.review).

Each field passes the same rule as in the roster import (gaung.fields); every error is
reported at once and nothing is saved until the whole form is valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from gaung import i18n
from gaung.db import utcnow
from gaung.errors import N_, GaungError
from gaung.fields import NipError, check_nip, normalise_email, normalise_handle, normalise_phone
from gaung.settings import PLATFORMS, get_settings
from kernel import audit
from kernel.limits import display_name
from kernel.outbox import PERSON_MESSENGERS, missing_address
from roster import ownership
from roster.invitations import check_open
from roster.models import Asn, AsnStatus, Invitation, SocialAccount, Unit
from roster.sign_in import queue_sign_in_message

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
NAME_MAX = 200


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
    if form.phone.strip():
        try:
            phone = normalise_phone(form.phone)
        except GaungError as exc:
            errors["phone"] = exc
    missing = missing_address(messenger, email=email or form.email, phone=phone or form.phone)
    if missing is not None:
        errors.setdefault(missing.field or "", missing)
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
    check_open(invitation)
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
