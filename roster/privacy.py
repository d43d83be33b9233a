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
  written to the log by roster.enrolment, so nothing earlier needs scrubbing).

Modules holding more about a person register a function in ``ERASERS`` (and ``EXPORTERS``)
so leaving reaches them in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from assignments.evidence import Evidence
from assignments.models import Assignment, Click
from content import audit
from content.models import Campaign
from gaung import i18n
from gaung.db import utcnow
from gaung.errors import N_, GaungError
from roster.enrolment import CONSENT_POINTS, CONSENT_VERSION
from roster.models import Agency, Asn, AsnStatus, OwnershipCheck, SocialAccount, Unit
from scheduler.outbox import OutboxMessage, OutboxStatus

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
        "assignments": _assignments(session, asn.id),
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


def _assignments(session: Session, asn_id: int) -> list[dict[str, Any]]:
    rows = list(
        session.exec(
            select(Assignment, Campaign.title)
            .join(Campaign, col(Campaign.id) == col(Assignment.campaign_id))
            .where(Assignment.asn_id == asn_id)
            .order_by(col(Assignment.id))
        )
    )
    ids = [a.id for a, _ in rows if a.id is not None]
    clicks = _click_counts(session, ids)
    evidence = _evidence(session, ids)
    return [
        {
            "id": a.id,
            "campaign": title,
            "platform": a.platform,
            "status": a.status,
            "deadline": _time(a.deadline),
            "tracking_code": a.code,
            "repost_url": a.repost_url,
            "reported_at": _time(a.reported_at),
            "followers_at_report": a.followers_at_report,
            "verified_at": _time(a.verified_at),
            "decline_reason": a.decline_reason,
            "clicks": clicks.get(a.id or 0, 0),
            "evidence": evidence.get(a.id or 0, []),
        }
        for a, title in rows
    ]


def _click_counts(session: Session, assignment_ids: list[int]) -> dict[int, int]:
    if not assignment_ids:
        return {}
    query = (
        select(Click.assignment_id, func.count())
        .where(col(Click.assignment_id).in_(assignment_ids))
        .group_by(col(Click.assignment_id))
    )
    return {assignment_id: count for assignment_id, count in session.exec(query)}


def _evidence(session: Session, assignment_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    if not assignment_ids:
        return found
    query = (
        select(Evidence)
        .where(col(Evidence.assignment_id).in_(assignment_ids))
        .order_by(col(Evidence.seen_at))
    )
    for row in session.exec(query):
        found.setdefault(row.assignment_id, []).append(
            {
                "check": row.check,
                "outcome": row.outcome,
                "reason": row.reason,
                "url": row.url,
                "seen_at": _time(row.seen_at),
            }
        )
    return found


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
        accounts = _detach_assignments(session, asn_id)
        _erase_messages(session, asn_id)
        if accounts:
            owned = col(OwnershipCheck.account_id).in_(accounts)
            session.execute(delete(OwnershipCheck).where(owned), execution_options=_BULK)
            mine = col(SocialAccount.id).in_(accounts)
            session.execute(delete(SocialAccount).where(mine), execution_options=_BULK)
        session.expire_all()  # the set-based statements bypassed the objects in the session
        for eraser in ERASERS:
            eraser(session, asn)
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


def _detach_assignments(session: Session, asn_id: int) -> list[int]:
    """Anonymise the ASN's assignments and their evidence; returns the ASN's account ids."""
    accounts = list(session.exec(select(SocialAccount.id).where(SocialAccount.asn_id == asn_id)))
    mine = select(Assignment.id).where(Assignment.asn_id == asn_id)
    session.execute(
        update(Evidence)
        .where(col(Evidence.assignment_id).in_(mine.scalar_subquery()))
        .values(url=None, platform_post_id=None, detail=""),
        execution_options=_BULK,
    )
    session.execute(
        update(Assignment)
        .where(col(Assignment.asn_id) == asn_id)
        .values(
            asn_id=None, account_id=None, repost_url=None, repost_key=None, decline_reason=None
        ),
        execution_options=_BULK,
    )
    return [a for a in accounts if a is not None]


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
