"""The Humas feedback digest: new public feedback, summed up by e-mail, not one mail each.

Every hour (``EVERY``) a recurring job, keyed by its period so it fires once across the
cluster, takes in the feedback received before the period began that no digest has taken
in yet (``feedback.notified_at`` is NULL), marks it taken in and, in the same transaction,
queues one ``feedback_digest_mail`` item per Humas staff member of the agency (editors,
approvers and admins still active), keyed ``feedback_digest:<period>:user:<id>``. So a
second run finds nothing new, a retried item does not double, and an hour the cluster was
down is caught up by the next digest: nothing goes unannounced, nothing is told twice.
An hour without new feedback sends nothing.

The mail lists per campaign how many items are new and how many are still open, the
newest questions briefly and a link to the campaign's feedback page in the console, in the
staff member's language and their agency's zone. Like ``staff_mail`` it goes through the
e-mail messenger directly (staff are not ASN): a transient failure raises so the queue
retries; a permanent one is logged.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.feedback import HANDLERS, Feedback, open_count
from channels.messaging import MESSENGERS, OutgoingMessage, PermanentSendError
from content.models import Campaign
from gaung import i18n
from gaung.db import utcnow
from gaung.settings import get_settings
from kernel import queue
from roster.agencies import reader_zone
from roster.models import User

log = logging.getLogger(__name__)

JOB = "feedback_digest"
MAIL_JOB = "feedback_digest_mail"
EVERY = timedelta(hours=1)
# Campaigns listed by name (the rest are counted) and questions quoted per campaign: the
# work item's payload stays small, the mail readable.
MAX_LISTED = 10
EXCERPTS = 3
EXCERPT_MAX = 200
_CHUNK = 500


def mail_key(period: datetime, user_id: int) -> str:
    return f"{JOB}:{period.isoformat(timespec='seconds')}:user:{user_id}"


def feedback_digest_job(engine: Engine, payload: dict[str, Any]) -> None:
    period = datetime.fromisoformat(str(payload["period"]))
    queued = collect(engine, period)
    log.info("feedback digest of %s: %s mails queued", period.isoformat(), queued)


def collect(engine: Engine, period_start: datetime) -> int:
    """Take in the feedback not yet told and queue one mail per Humas staff member; returns
    how many mails were queued."""
    with Session(engine) as session:
        rows = session.exec(
            select(Feedback.id, Feedback.campaign_id, Campaign.agency_id)
            .join(Campaign, col(Campaign.id) == col(Feedback.campaign_id))
            .where(col(Feedback.notified_at).is_(None), col(Feedback.created_at) < period_start)
            .order_by(col(Feedback.id))
        ).all()
        found: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for feedback_id, campaign_id, agency_id in rows:
            assert feedback_id is not None
            found[agency_id][campaign_id].append(feedback_id)
        queued = 0
        now = utcnow()
        for agency_id, campaigns in found.items():
            ranked = sorted(campaigns.items(), key=lambda item: (-len(item[1]), item[0]))
            listed = [[cid, len(ids), ids[-EXCERPTS:]] for cid, ids in ranked[:MAX_LISTED]]
            rest = ranked[MAX_LISTED:]
            staff = session.exec(
                select(User)
                .where(
                    User.agency_id == agency_id,
                    col(User.active).is_(True),
                    col(User.role).in_([str(r) for r in HANDLERS]),
                )
                .order_by(col(User.id))
            ).all()
            for user in staff:
                assert user.id is not None
                queue.enqueue(
                    session,
                    kind=MAIL_JOB,
                    key=mail_key(period_start, user.id),
                    payload={
                        "period": period_start.isoformat(),
                        "user_id": user.id,
                        "campaigns": listed,
                        "more_items": sum(len(ids) for _cid, ids in rest),
                        "more_campaigns": len(rest),
                    },
                    run_at=now,
                )
                queued += 1
        ids = [feedback_id for feedback_id, _c, _a in rows if feedback_id is not None]
        for start in range(0, len(ids), _CHUNK):
            session.execute(
                update(Feedback)
                .where(col(Feedback.id).in_(ids[start : start + _CHUNK]))
                .values(notified_at=period_start),
                execution_options={"synchronize_session": False},
            )
        session.commit()
    return queued


def feedback_digest_mail_job(engine: Engine, payload: dict[str, Any]) -> None:
    period = datetime.fromisoformat(str(payload["period"]))
    with Session(engine) as session:
        user = session.get(User, int(payload["user_id"]))
        if user is None or not user.active or user.role not in HANDLERS:
            log.info("feedback digest for staff %s: no longer Humas; not sent", payload["user_id"])
            return
        assert user.id is not None
        subject, text = render(session, user, period, payload)
        message = OutgoingMessage(
            to=user.email,
            subject=subject,
            text=text,
            html=None,
            idempotency_key=mail_key(period, user.id),
        )
    try:
        MESSENGERS["email"].send(message)
    except PermanentSendError as exc:
        log.warning("feedback digest for staff %s: e-mail refused: %s", payload["user_id"], exc)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_MAX else flat[: EXCERPT_MAX - 1].rstrip() + "…"


def render(
    session: Session, user: User, period: datetime, payload: dict[str, Any]
) -> tuple[str, str]:
    """(subject, text) of one staff member's digest, in their language and agency's zone."""
    listed: list[tuple[int, int, list[int]]] = [
        (int(cid), int(count), [int(i) for i in ids]) for cid, count, ids in payload["campaigns"]
    ]
    campaigns = {
        c.id: c
        for c in session.exec(
            select(Campaign).where(
                col(Campaign.id).in_([cid for cid, _n, _ids in listed]),
                Campaign.agency_id == user.agency_id,
            )
        )
    }
    quoted = {
        f.id: f.text
        for f in session.exec(
            select(Feedback).where(col(Feedback.id).in_([i for _c, _n, ids in listed for i in ids]))
        )
    }
    total = sum(n for _c, n, _ids in listed) + int(payload.get("more_items", 0))
    base = get_settings().base_url.rstrip("/")
    zone = reader_zone(session, user.agency_id)
    _ = i18n.gettext
    with i18n.use_locale(user.locale):
        subject = _("Feedback from the public: %(count)s new") % {"count": total}
        lines = [
            _("Hello %(name)s,") % {"name": user.name},
            "",
            _("ASN passed on new questions and remarks from the public (until %(time)s):")
            % {"time": i18n.format_datetime(period, "short", tz=zone)},
        ]
        for cid, count, ids in listed:
            campaign = campaigns.get(cid)
            if campaign is None:  # moved or gone since: nothing to show
                continue
            lines += [
                "",
                "• "
                + _("%(campaign)s: %(new)s new, %(open)s open")
                % {"campaign": campaign.title, "new": count, "open": open_count(session, cid)},
            ]
            lines += [f"  “{_excerpt(quoted[i])}”" for i in ids if i in quoted]
            lines.append(f"  {base}/console/campaigns/{cid}/feedback")
        more_campaigns = int(payload.get("more_campaigns", 0))
        if more_campaigns:
            lines += [
                "",
                _("And %(count)s more in %(campaigns)s other campaigns.")
                % {"count": payload.get("more_items", 0), "campaigns": more_campaigns},
            ]
        lines += [
            "",
            _(
                "Answer them in the console: the answer reaches the ASN on their assignment "
                "page and through their messenger."
            ),
        ]
    return " ".join(subject.split()), "\n".join(lines) + "\n"
