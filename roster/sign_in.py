"""The sign-in message: an ASN's personal link to Gaung, on enrolment or sent by Humas.

The link itself is minted at send time (kernel.outbox INBOX_LINK), so the database holds
no live links.
"""

from __future__ import annotations

from sqlmodel import Session, select

from gaung import i18n
from gaung.db import utcnow
from gaung.errors import N_, GaungError
from kernel.outbox import INBOX_LINK, PERSON_MESSENGERS, OutboxMessage, OutboxStatus
from roster import humas
from roster.models import Agency, Asn, AsnStatus, User


def sign_in_channel(asn: Asn) -> tuple[str, str] | None:
    """(messenger, address) to send a sign-in link by, or None when there is none.

    WhatsApp only carries approved templates, and Gaung's one template is the assignment
    notice, so a WhatsApp person gets their link by e-mail when they gave an address.
    """
    spec = PERSON_MESSENGERS.get(asn.messenger)
    if spec is not None and spec.carries_sign_in_link:
        address = getattr(asn, spec.address_field)
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
    humas.require_reviewer(actor)
    asn = humas.get_asn(session, actor, asn_id)
    if asn.status not in (AsnStatus.ACTIVE, AsnStatus.PENDING):
        raise GaungError(N_("Only active or pending ASN can be sent a sign-in link."))
    if sign_in_channel(asn) is None:
        raise GaungError(N_("There is no e-mail address or Telegram chat to send the link to."))
    # Once a day per generation of links: after a revocation Humas can send a fresh one.
    key = f"signin:{asn.id}:{asn.login_epoch}:{utcnow().date().isoformat()}"
    queued = queue_sign_in_message(session, asn, key=key, welcome=False)
    if queued:
        humas.record(session, actor, "asn.sign_in_link_sent", "asn", asn.id)
        session.commit()
    return queued


def revoke_sign_in(session: Session, actor: User, asn_id: int) -> Asn:
    """Every sign-in link already sent stops working and every inbox session ends, without
    suspending the person (e.g. a lost phone); a new link can be sent at once. Audited;
    commits."""
    humas.require_reviewer(actor)
    asn = humas.get_asn(session, actor, asn_id)
    if asn.status == AsnStatus.LEFT:
        raise GaungError(N_("This person left Gaung; there is nothing to revoke."))
    asn.login_epoch += 1
    asn.session_epoch += 1
    session.add(asn)
    humas.record(session, actor, "asn.sign_in_revoked", "asn", asn.id)
    session.commit()
    return asn


def sign_out(session: Session, asn: Asn) -> None:
    """The ASN signed out: every copy of their inbox session ends; their links keep working."""
    asn.session_epoch += 1
    session.add(asn)
    session.commit()
