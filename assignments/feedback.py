"""Feedback from the public, relayed by an ASN to Humas.

ASN are conveyors of accurate information both ways: a question or a remark a
member of the public left on their repost is passed back to Humas from the inbox,
per assignment, and Humas lists it per campaign and marks it handled (audited).

Humas answers an item from the console (``reply``): the answer is stored (who, when),
audited, marks the item handled, shows on the ASN's assignment page, and the
``after_reply`` hooks (filled by ``wiring``: the outbox notice) run in the same
transaction. Each reply form carries a one-time key, so a double submit stores one reply
and queues one message. Several replies make a thread. ``summary`` gives the per-campaign
figures (received, handled, replied, open, oldest open, per unit).

``asn_id`` is nullable so the feedback outlives an ASN who leaves (their personal
data is erased; what the public said stays with the campaign).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import UniqueConstraint, case, exists, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel, col, func, select

from assignments import reporting
from assignments.models import Assignment
from content import workflow
from content.models import Campaign
from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from gaung.text import clean_text
from kernel import audit, webhooks
from kernel.webhooks import EventType
from roster.models import Asn, AsnStatus, Role, Unit, User

TEXT_MAX = 2000
REPLY_MAX = 2000
FORM_KEY_MAX = 64
LINK_MAX = 500
# Per assignment: plenty for real questions, a ceiling against a stuck submit button.
PER_ASSIGNMENT_MAX = 20
HANDLERS = frozenset({Role.EDITOR, Role.APPROVER, Role.ADMIN})


class Feedback(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    asn_id: int | None = Field(default=None, foreign_key="asn.id")
    text: str = Field(max_length=TEXT_MAX)
    link: str | None = Field(default=None, max_length=LINK_MAX)
    created_at: datetime = Field(default_factory=utcnow)
    handled_at: datetime | None = None
    handled_by: int | None = Field(default=None, foreign_key="user.id")
    # When the Humas digest (scheduler.feedback_digest) took it in; NULL: not yet told.
    notified_at: datetime | None = None


class FeedbackReply(SQLModel, table=True):
    """Humas' answer to one feedback item, shown to the ASN and sent to them once."""

    __tablename__ = "feedback_reply"
    __table_args__ = (
        # One reply per submitted form: a double submit finds the first one.
        UniqueConstraint("feedback_id", "form_key", name="uq_feedback_reply_form"),
    )
    id: int | None = Field(default=None, primary_key=True)
    feedback_id: int = Field(foreign_key="feedback.id")
    text: str = Field(max_length=REPLY_MAX)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    form_key: str = Field(max_length=FORM_KEY_MAX)


# Called with (session, feedback, reply) in the transaction that stores a new reply, e.g.
# to queue the ASN's message. Filled by wiring.
after_reply: list[Callable[[Session, Feedback, FeedbackReply], None]] = []


def _text(text: str) -> str:
    text = clean_text(text, "text")
    if not text:
        raise GaungError(N_("Write the question or feedback you received."), field="text")
    if len(text) > TEXT_MAX:
        raise GaungError(
            N_("The feedback is %(actual)s characters; the limit is %(limit)s."),
            field="text",
            actual=len(text),
            limit=TEXT_MAX,
        )
    return text


def _link(link: str | None) -> str | None:
    link = (link or "").strip()
    if not link:
        return None
    if len(link) > LINK_MAX:
        raise GaungError(
            N_("The link is %(actual)s characters; the limit is %(limit)s."),
            field="link",
            actual=len(link),
            limit=LINK_MAX,
        )
    try:
        parts = urlsplit(link)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in link)
    ):
        raise GaungError(
            N_("The link must be a web address starting with https:// or http://."),
            field="link",
        )
    return link


def submit(session: Session, asn: Asn, assignment_id: int, text: str, link: str = "") -> Feedback:
    """Store feedback on one of the ASN's own assignments (404 for anyone else's); commits."""
    assignment = reporting.get_for_asn(session, asn, assignment_id)
    cleaned, url = _text(text), _link(link)
    sent = session.exec(
        select(func.count())
        .select_from(Feedback)
        .where(Feedback.assignment_id == assignment_id, Feedback.asn_id == asn.id)
    ).one()
    if sent >= PER_ASSIGNMENT_MAX:
        raise GaungError(
            N_("You have already sent %(limit)s messages about this assignment."),
            field="text",
            limit=PER_ASSIGNMENT_MAX,
        )
    feedback = Feedback(
        assignment_id=assignment_id,
        campaign_id=assignment.campaign_id,
        asn_id=asn.id,
        text=cleaned,
        link=url,
    )
    session.add(feedback)
    session.flush()
    campaign = session.get_one(Campaign, assignment.campaign_id)
    webhooks.emit(
        session,
        campaign.agency_id,
        EventType.FEEDBACK_RECEIVED,
        {
            "feedback_id": feedback.id,
            "assignment_id": assignment_id,
            "campaign_id": assignment.campaign_id,
            "post_id": assignment.post_id,
            "text": feedback.text,
            "link": feedback.link,
            "created_at": feedback.created_at,
        },
    )
    session.commit()
    return feedback


def list_for_campaign(
    session: Session, user: User, campaign_id: int
) -> list[tuple[Feedback, Asn | None]]:
    """The campaign's feedback, open items first, newest first; another agency's: 404."""
    workflow.get_campaign(session, user, campaign_id)  # another agency's: 404
    query = (
        select(Feedback, Asn)
        .join(Asn, col(Asn.id) == col(Feedback.asn_id), isouter=True)
        .where(Feedback.campaign_id == campaign_id)
        .order_by(col(Feedback.handled_at).is_not(None), col(Feedback.id).desc())
    )
    return [(feedback, asn) for feedback, asn in session.exec(query)]


def open_count(session: Session, campaign_id: int) -> int:
    query = (
        select(func.count())
        .select_from(Feedback)
        .where(Feedback.campaign_id == campaign_id, col(Feedback.handled_at).is_(None))
    )
    return int(session.exec(query).one())


def _for_handler(session: Session, user: User, feedback_id: int) -> tuple[Feedback, Campaign]:
    """The feedback item and its campaign, if ``user`` may handle it (403 / 404 otherwise)."""
    if not user.active or user.role not in HANDLERS:
        raise ForbiddenError(N_("Your role does not allow this action."))
    feedback = session.get(Feedback, feedback_id)
    if feedback is None:
        raise NotFoundError(N_("Feedback not found."))
    campaign = session.get(Campaign, feedback.campaign_id)
    if campaign is None or campaign.agency_id != user.agency_id:
        raise NotFoundError(N_("Feedback not found."))
    return feedback, campaign


def _mark(feedback: Feedback, user: User) -> None:
    feedback.handled_at = utcnow()
    feedback.handled_by = user.id


def mark_handled(session: Session, user: User, feedback_id: int) -> Feedback:
    """Mark feedback handled (once), audited; another agency's feedback answers 404. Commits."""
    feedback, campaign = _for_handler(session, user, feedback_id)
    if feedback.handled_at is not None:
        return feedback
    _mark(feedback, user)
    session.add(feedback)
    audit.record(
        session,
        actor=user,
        action="feedback.handled",
        entity="feedback",
        entity_id=feedback.id,
        agency_id=campaign.agency_id,
        detail=f"campaign {campaign.id}",
    )
    session.commit()
    return feedback


def _reply_text(text: str) -> str:
    text = clean_text(text, "reply")
    if not text:
        raise GaungError(N_("Write your answer."), field="reply")
    if len(text) > REPLY_MAX:
        raise GaungError(
            N_("The answer is %(actual)s characters; the limit is %(limit)s."),
            field="reply",
            actual=len(text),
            limit=REPLY_MAX,
        )
    return text


def _form_key(value: str) -> str:
    value = value.strip()
    if not value or len(value) > FORM_KEY_MAX or not value.isascii() or not value.isprintable():
        raise GaungError(
            N_("This form is out of date. Reload the page and send the answer again."),
            field="reply",
        )
    return value


def reply(
    session: Session, user: User, feedback_id: int, text: str, form_key: str
) -> FeedbackReply:
    """Store Humas' answer to a feedback item and mark it handled; audited. Commits.

    ``form_key`` is the reply form's one-time key: sending the same form again (a double
    click, a reload) returns the first reply and changes nothing, even when both arrive
    at once. Another agency's feedback answers 404, a reader's role 403.
    """
    feedback, campaign = _for_handler(session, user, feedback_id)
    cleaned, key = _reply_text(text), _form_key(form_key)
    assert user.id is not None
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(FeedbackReply.__table__)  # type: ignore[attr-defined]
        .values(
            feedback_id=feedback_id,
            text=cleaned,
            created_by=user.id,
            created_at=utcnow(),
            form_key=key,
        )
        .on_conflict_do_nothing(index_elements=["feedback_id", "form_key"])
        .returning(col(FeedbackReply.id))
    )
    new_id = session.execute(statement).scalar_one_or_none()
    if new_id is None:  # this form was sent before: that reply stands
        session.rollback()
        return session.exec(
            select(FeedbackReply).where(
                FeedbackReply.feedback_id == feedback_id, FeedbackReply.form_key == key
            )
        ).one()
    stored = session.get_one(FeedbackReply, new_id)
    if feedback.handled_at is None:
        _mark(feedback, user)
        session.add(feedback)
    audit.record(
        session,
        actor=user,
        action="feedback.replied",
        entity="feedback",
        entity_id=feedback.id,
        agency_id=campaign.agency_id,
        detail=f"campaign {campaign.id}, reply {new_id}",
    )
    webhooks.emit(
        session,
        campaign.agency_id,
        EventType.FEEDBACK_REPLIED,
        {
            "feedback_id": feedback.id,
            "reply_id": new_id,
            "assignment_id": feedback.assignment_id,
            "campaign_id": feedback.campaign_id,
            "text": stored.text,
            "created_at": stored.created_at,
        },
    )
    for hook in after_reply:
        hook(session, feedback, stored)
    session.commit()
    return stored


def replies_for(
    session: Session, feedback_ids: list[int]
) -> dict[int, list[tuple[FeedbackReply, str]]]:
    """Each item's replies, oldest first, with the name of the staff member who wrote it."""
    found: dict[int, list[tuple[FeedbackReply, str]]] = {}
    if not feedback_ids:
        return found
    query = (
        select(FeedbackReply, User.name)
        .join(User, col(User.id) == col(FeedbackReply.created_by))
        .where(col(FeedbackReply.feedback_id).in_(feedback_ids))
        .order_by(col(FeedbackReply.id))
    )
    for row, name in session.exec(query):
        found.setdefault(row.feedback_id, []).append((row, name))
    return found


def thread_for_asn(
    session: Session, asn_id: int | None, assignment_id: int
) -> list[tuple[Feedback, list[FeedbackReply]]]:
    """What the ASN passed on about one of their assignments, oldest first, with the answers."""
    if asn_id is None:
        return []
    items = list(
        session.exec(
            select(Feedback)
            .where(Feedback.assignment_id == assignment_id, Feedback.asn_id == asn_id)
            .order_by(col(Feedback.id))
        )
    )
    replies = replies_for(session, [f.id for f in items if f.id is not None])
    return [(f, [r for r, _name in replies.get(f.id or 0, [])]) for f in items]


def may_be_told(asn: Asn | None) -> bool:
    """Whether a reply is also sent to the ASN (not to someone who left Gaung)."""
    return asn is not None and asn.status != AsnStatus.LEFT


@dataclass(frozen=True)
class Tally:
    """Feedback figures of a campaign, or of one of its units."""

    received: int
    handled: int
    replied: int
    open: int
    oldest_open: datetime | None


@dataclass(frozen=True)
class UnitTally:
    unit_id: int
    unit_name: str
    tally: Tally


@dataclass(frozen=True)
class Summary:
    total: Tally
    units: tuple[UnitTally, ...]


def summary(session: Session, campaign_id: int) -> Summary:
    """Received, handled, replied and open feedback of a campaign, in total and per unit.

    The unit is the assignment's (kept when the ASN leaves). One grouped query.
    """
    replied = exists().where(col(FeedbackReply.feedback_id) == col(Feedback.id))
    is_open = col(Feedback.handled_at).is_(None)
    query = (
        core_select(
            col(Unit.id),
            col(Unit.name),
            func.count(col(Feedback.id)),
            func.count(col(Feedback.handled_at)),
            func.sum(case((replied, 1), else_=0)),
            func.sum(case((is_open, 1), else_=0)),
            func.min(case((is_open, col(Feedback.created_at)), else_=None)),
        )
        .select_from(Feedback)
        .join(Assignment, col(Assignment.id) == col(Feedback.assignment_id))
        .join(Unit, col(Unit.id) == col(Assignment.unit_id))
        .where(col(Feedback.campaign_id) == campaign_id)
        .group_by(col(Unit.id), col(Unit.name))
        .order_by(col(Unit.name), col(Unit.id))
    )
    units = tuple(
        UnitTally(
            unit_id,
            name,
            Tally(int(received), int(handled), int(n_replied or 0), int(n_open or 0), oldest),
        )
        for unit_id, name, received, handled, n_replied, n_open, oldest in session.execute(query)
    )
    opens = [u.tally.oldest_open for u in units if u.tally.oldest_open is not None]
    total = Tally(
        sum(u.tally.received for u in units),
        sum(u.tally.handled for u in units),
        sum(u.tally.replied for u in units),
        sum(u.tally.open for u in units),
        min(opens) if opens else None,
    )
    return Summary(total, units)


# --- the ASN's own data (wiring registers these with roster.privacy) -------------------


def export_personal_data(session: Session, asn: Asn) -> dict[str, Any]:
    rows = list(
        session.exec(select(Feedback).where(Feedback.asn_id == asn.id).order_by(col(Feedback.id)))
    )
    replies = replies_for(session, [row.id for row in rows if row.id is not None])
    return {
        "feedback": [
            {
                "assignment_id": row.assignment_id,
                "text": row.text,
                "link": row.link,
                "created_at": row.created_at.isoformat(),
                "replies": [
                    {"text": answer.text, "created_at": answer.created_at.isoformat()}
                    for answer, _name in replies.get(row.id or 0, [])
                ],
            }
            for row in rows
        ]
    }


def erase_personal_data(session: Session, asn: Asn) -> None:
    # What the public asked (and Humas' answers) stays with the campaign; who relayed it and
    # the link to their repost do not. The answers reach the person only through asn_id.
    session.execute(
        update(Feedback).where(col(Feedback.asn_id) == asn.id).values(asn_id=None, link=None),
        execution_options={"synchronize_session": False},
    )
