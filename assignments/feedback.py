"""Feedback from the public, relayed by an ASN to Humas.

ASN are conveyors of accurate information both ways: a question or a remark a
member of the public left on their repost is passed back to Humas from the inbox,
per assignment, and Humas lists it per campaign and marks it handled (audited).

``asn_id`` is nullable so the feedback outlives an ASN who leaves (their personal
data is erased; what the public said stays with the campaign).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel, col, func, select

from assignments import reporting
from content import workflow
from content.models import Campaign
from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from gaung.text import clean_text
from kernel import audit, webhooks
from kernel.webhooks import EventType
from roster.models import Asn, Role, User

TEXT_MAX = 2000
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


def mark_handled(session: Session, user: User, feedback_id: int) -> Feedback:
    """Mark feedback handled (once), audited; another agency's feedback answers 404. Commits."""
    if not user.active or user.role not in HANDLERS:
        raise ForbiddenError(N_("Your role does not allow this action."))
    feedback = session.get(Feedback, feedback_id)
    if feedback is None:
        raise NotFoundError(N_("Feedback not found."))
    campaign = session.get(Campaign, feedback.campaign_id)
    if campaign is None or campaign.agency_id != user.agency_id:
        raise NotFoundError(N_("Feedback not found."))
    if feedback.handled_at is not None:
        return feedback
    feedback.handled_at = utcnow()
    feedback.handled_by = user.id
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


# --- the ASN's own data (wiring registers these with roster.privacy) -------------------


def export_personal_data(session: Session, asn: Asn) -> dict[str, Any]:
    rows = session.exec(
        select(Feedback).where(Feedback.asn_id == asn.id).order_by(col(Feedback.id))
    )
    return {
        "feedback": [
            {
                "assignment_id": row.assignment_id,
                "text": row.text,
                "link": row.link,
                "created_at": row.created_at.isoformat(),
            }
            for row in rows
        ]
    }


def erase_personal_data(session: Session, asn: Asn) -> None:
    # What the public asked stays with the campaign; who relayed it and the link to their
    # repost do not.
    session.execute(
        update(Feedback).where(col(Feedback.asn_id) == asn.id).values(asn_id=None, link=None),
        execution_options={"synchronize_session": False},
    )
