"""An ASN's own data: everything Gaung holds about them (export), and leaving (erasure).

Indonesia's personal-data law (UU 27/2022) gives a person the right to see, copy and delete
their data. ``export`` gathers it as one JSON-ready dict. ``leave`` erases it in one
transaction and keeps only what campaign statistics need, anonymously:

- the ``asn`` row stays (agency and unit only) with status LEFT, so counts per unit hold;
  name becomes "", NIP, e-mail, phone, Telegram chat id, consent and Humas' note NULL, and
  ``login_epoch`` is bumped so every sign-in link already sent stops working;
- social accounts and their ownership codes are deleted (the registry forgets them);
- assignments keep their status, platform, unit and follower count at report time (so
  completion and potential reach still add up) but lose the person, the account, the
  repost link and the decline reason; evidence loses links and post ids;
- messages sent to them lose address and text (a queued one is not sent any more);
- the audit row says that someone left, by id, with nothing personal (ids only are ever
  written to the log by enrolment and Humas' actions, so nothing earlier needs scrubbing).

Packages holding more about a person (assignments, feedback) provide an exporter and an
eraser; the composition root (``wiring``) puts them in ``EXPORTERS`` and ``ERASERS``, so
leaving reaches them in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from gaung import i18n
from gaung.db import utcnow
from gaung.errors import N_, GaungError
from kernel import audit
from kernel.outbox import OutboxMessage, OutboxStatus
from roster.enrolment import CONSENT_POINTS, CONSENT_VERSION
from roster.models import Agency, Asn, AsnStatus, OwnershipCheck, SocialAccount, Unit

EXPORT_FORMAT = "gaung.personal-data.v1"
LEFT_ERROR = "recipient left Gaung"
# (session, asn) -> extra sections for the export / erase in the caller's transaction.
EXPORTERS: list[Callable[[Session, Asn], dict[str, Any]]] = []
ERASERS: list[Callable[[Session, Asn], None]] = []
# Plain set-based statements: no RETURNING to keep session objects in step (expired instead).
_BULK = {"synchronize_session": False}


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export(session: Session, asn: Asn) -> dict[str, Any]:
    """Everything Gaung holds about the ASN, as a JSON-ready dict."""
    assert asn.id is not None
    agency = session.get(Agency, asn.agency_id)
    unit = session.get(Unit, asn.unit_id)
    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": _time(utcnow()),
        "profile": {
            "id": asn.id,
            "nip": asn.nip,
            "name": asn.name,
            "email": asn.email,
            "phone": asn.phone,
            "messenger": asn.messenger,
            "telegram_chat_id": asn.telegram_chat_id,
            "language": asn.locale,
            "status": asn.status,
            "agency": agency.name if agency else None,
            "unit": unit.name if unit else None,
            "enrolled_at": _time(asn.created_at),
            "approved_at": _time(asn.approved_at),
            "humas_note": asn.review_note,
        },
        "consent": _consent(asn),
        "accounts": _accounts(session, asn.id),
        "messages": _messages(session, asn.id),
    }
    for exporter in EXPORTERS:
        data.update(exporter(session, asn))
    return data


def _consent(asn: Asn) -> dict[str, Any]:
    with i18n.use_locale(asn.locale):
        text = [i18n.gettext(point) for point in CONSENT_POINTS]
    return {
        "given_at": _time(asn.consent_at),
        "version": asn.consent_version,
        "text": text if asn.consent_version == CONSENT_VERSION else None,
    }


def _accounts(session: Session, asn_id: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(SocialAccount, OwnershipCheck)
        .outerjoin(OwnershipCheck, col(OwnershipCheck.account_id) == col(SocialAccount.id))
        .where(SocialAccount.asn_id == asn_id)
        .order_by(col(SocialAccount.platform))
    )
    return [
        {
            "platform": account.platform,
            "handle": account.handle,
            "platform_user_id": account.platform_user_id,
            "followers": account.followers,
            "followers_at": _time(account.followers_at),
            "ownership_verified_at": _time(account.ownership_verified_at),
            "ownership_code": check.code if check else None,
            "ownership_check": check.state if check else None,
            "ownership_proof_url": check.proof_url if check else None,
            "enrolled_at": _time(account.created_at),
        }
        for account, check in rows
    ]


def _messages(session: Session, asn_id: int) -> list[dict[str, Any]]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.asn_id == asn_id)
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
    )
    return [
        {
            "messenger": m.messenger,
            "recipient": m.recipient,
            "subject": m.subject,
            "text": m.text,
            "status": m.status,
            "created_at": _time(m.created_at),
            "sent_at": _time(m.sent_at),
        }
        for m in session.exec(query)
    ]


# --- leaving -------------------------------------------------------------------------------


def leave(session: Session, asn: Asn) -> None:
    """Erase the ASN's personal data, keep anonymous counts (see the module notes); commits."""
    if asn.id is None or asn.status == AsnStatus.LEFT:
        raise GaungError(N_("You have already left Gaung."))
    asn_id = asn.id
    try:
        # Others' rows first: assignments refer to the accounts deleted below.
        for eraser in ERASERS:
            eraser(session, asn)
        accounts = [
            a
            for a in session.exec(select(SocialAccount.id).where(SocialAccount.asn_id == asn_id))
            if a is not None
        ]
        _erase_messages(session, asn_id)
        if accounts:
            owned = col(OwnershipCheck.account_id).in_(accounts)
            session.execute(delete(OwnershipCheck).where(owned), execution_options=_BULK)
            mine = col(SocialAccount.id).in_(accounts)
            session.execute(delete(SocialAccount).where(mine), execution_options=_BULK)
        session.expire_all()  # the set-based statements bypassed the objects in the session
        _anonymise(asn)
        session.add(asn)
        audit.record(
            session,
            actor=None,
            action="asn.left",
            entity="asn",
            entity_id=asn_id,
            agency_id=asn.agency_id,
            detail=f"personal data erased; {len(accounts)} account(s) deleted",
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _erase_messages(session: Session, asn_id: int) -> None:
    session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.asn_id) == asn_id,
            col(OutboxMessage.status).in_([OutboxStatus.QUEUED, OutboxStatus.SENDING]),
        )
        .values(status=OutboxStatus.FAILED, last_error=LEFT_ERROR),
        execution_options=_BULK,
    )
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.asn_id) == asn_id)
        .values(recipient=None, subject="", text="", html=None, params=None),
        execution_options=_BULK,
    )


def _anonymise(asn: Asn) -> None:
    asn.name = ""
    asn.nip = None
    asn.email = None
    asn.phone = None
    asn.telegram_chat_id = None
    asn.telegram_link_hash = None
    asn.telegram_link_expires_at = None
    asn.consent_at = None
    asn.consent_version = None
    asn.review_note = None
    asn.status = AsnStatus.LEFT
    asn.login_epoch += 1
    asn.session_epoch += 1
