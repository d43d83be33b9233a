"""What an ASN does with an assignment: report the repost link, or decline.

Every look-up is scoped to the signed-in ASN, and a foreign assignment answers
exactly like a missing one, so nobody can probe other people's assignment ids.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from assignments.evidence import enqueue_link_check
from assignments.models import Assignment, AssignmentStatus, DispatchPart
from content.models import Campaign, Post
from gaung.db import utcnow
from gaung.errors import N_, GaungError, NotFoundError
from gaung.fields import handle_key
from gaung.post_links import PostLink, parse_post_url
from gaung.settings import PLATFORM_NAMES
from gaung.text import clean_text
from kernel import webhooks
from kernel.webhooks import EventType
from roster.models import Asn, SocialAccount

MAX_REASON_LENGTH = 500  # Assignment.decline_reason column size

_REPORTABLE = {AssignmentStatus.PENDING, AssignmentStatus.REPORTED, AssignmentStatus.REJECTED}
_DECLINABLE = {AssignmentStatus.PENDING, AssignmentStatus.REJECTED}

RepostRef = PostLink  # a repost's canonical identity and the account in its URL


def parse_repost_url(platform: str, url: str) -> RepostRef:
    """Recognise a repost link for ``platform`` (the shapes are ``gaung.post_links``').

    Raises GaungError(field="repost_url") with a message saying what is wrong.
    """
    return parse_post_url(platform, url, field="repost_url")


def _mid_dispatch() -> ColumnElement[bool]:
    """The assignment's post is still being dispatched in chunks (scheduler.dispatch) or was
    withdrawn before it finished: its assignments are not shown to the ASN."""
    return exists().where(
        col(DispatchPart.post_id) == col(Assignment.post_id),
        col(Post.id) == col(Assignment.post_id),
        col(Post.dispatched_at).is_(None),
    )


def get_for_asn(session: Session, asn: Asn, assignment_id: int) -> Assignment:
    """The ASN's own assignment; anyone else's (or one mid-dispatch) is reported as not found."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or asn.id is None or assignment.asn_id != asn.id:
        raise NotFoundError(N_("Assignment not found."))
    hidden = session.exec(select(_mid_dispatch()).where(col(Assignment.id) == assignment_id))
    if hidden.one():
        raise NotFoundError(N_("Assignment not found."))
    return assignment


def list_for_asn(session: Session, asn: Asn) -> list[Assignment]:
    """The ASN's assignments, newest first."""
    query = (
        select(Assignment)
        .where(Assignment.asn_id == asn.id, ~_mid_dispatch())
        .order_by(col(Assignment.created_at).desc(), col(Assignment.id).desc())
    )
    return list(session.exec(query))


def report_repost(session: Session, asn: Asn, assignment_id: int, url: str) -> Assignment:
    """Record the link to the ASN's repost; it waits for verification as REPORTED."""
    assignment = get_for_asn(session, asn, assignment_id)
    if assignment.status not in _REPORTABLE:
        raise GaungError(N_("This assignment can no longer be reported."), field="repost_url")
    ref = parse_repost_url(assignment.platform, url)
    account = _enrolled_account(session, asn, assignment.platform)
    _check_handle(ref, account)
    _check_unused(session, assignment, ref.key)
    assignment.repost_url = url.strip()
    assignment.repost_key = ref.key
    assignment.reported_at = utcnow()
    assignment.followers_at_report = account.followers
    assignment.status = AssignmentStatus.REPORTED
    session.add(assignment)
    try:
        # Same transaction: no report without its check. Enqueueing flushes the report, so a
        # concurrent duplicate link can surface here as well as at commit.
        enqueue_link_check(session, assignment)
        _emit_reported(session, assignment)
        session.commit()
    except IntegrityError:
        # Someone reported the same link between our check and our commit.
        session.rollback()
        raise _reused_link() from None
    session.refresh(assignment)
    return assignment


def _emit_reported(session: Session, assignment: Assignment) -> None:
    """The ``assignment.reported`` webhook event, in the report's transaction."""
    campaign = session.get_one(Campaign, assignment.campaign_id)
    webhooks.emit(
        session,
        campaign.agency_id,
        EventType.ASSIGNMENT_REPORTED,
        {
            "assignment_id": assignment.id,
            "post_id": assignment.post_id,
            "campaign_id": assignment.campaign_id,
            "unit_id": assignment.unit_id,
            "asn_id": assignment.asn_id,
            "platform": assignment.platform,
            "repost_url": assignment.repost_url,
            "reported_at": assignment.reported_at,
        },
    )


def _enrolled_account(session: Session, asn: Asn, platform: str) -> SocialAccount:
    query = select(SocialAccount).where(
        SocialAccount.asn_id == asn.id, SocialAccount.platform == platform
    )
    account = session.exec(query).first()
    if account is None:
        raise GaungError(
            N_("You have no enrolled %(platform)s account."),
            field="repost_url",
            platform=PLATFORM_NAMES.get(platform, platform),
        )
    return account


def _check_handle(ref: RepostRef, account: SocialAccount) -> None:
    if ref.handle is None:
        return  # the link does not name its account; verification decides
    found, expected = handle_key(ref.handle), handle_key(account.handle)
    if found != expected:
        raise GaungError(
            N_("This link belongs to @%(found)s, not your enrolled account @%(expected)s."),
            field="repost_url",
            found=found,
            expected=expected,
        )


def _reused_link() -> GaungError:
    return GaungError(
        N_("This repost link has already been reported for another assignment."),
        field="repost_url",
    )


def _check_unused(session: Session, assignment: Assignment, key: str) -> None:
    query = select(Assignment.id).where(
        Assignment.platform == assignment.platform,
        Assignment.repost_key == key,
        Assignment.id != assignment.id,
    )
    if session.exec(query).first() is not None:
        raise _reused_link()


def decline(session: Session, asn: Asn, assignment_id: int, reason: str) -> Assignment:
    """The ASN says no, with a reason the Humas team can read."""
    assignment = get_for_asn(session, asn, assignment_id)
    reason = clean_text(reason, "reason")
    if not reason:
        raise GaungError(N_("Please give a reason for declining."), field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise GaungError(
            N_("The reason can be at most %(max)s characters."),
            field="reason",
            max=MAX_REASON_LENGTH,
        )
    if assignment.status not in _DECLINABLE:
        raise GaungError(N_("This assignment can no longer be declined."), field="reason")
    assignment.decline_reason = reason
    assignment.status = AssignmentStatus.DECLINED
    session.add(assignment)
    session.commit()
    session.refresh(assignment)
    return assignment
