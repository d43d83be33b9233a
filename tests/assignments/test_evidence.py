"""record(): one evidence row per check, and the assignment state it implies."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from assignments.evidence import Evidence, Outcome, record
from assignments.models import Assignment, AssignmentStatus
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

S = AssignmentStatus


@pytest.fixture
def assignment(session: Session) -> Assignment:
    agency = make_agency(session)
    editor = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency, editor), editor)
    return make_assignment(session, post, make_asn(session, make_unit(session, agency)))


def _record(session: Session, assignment: Assignment, status: str, outcome: str) -> Assignment:
    assignment.status = status
    session.add(assignment)
    session.commit()
    record(session, assignment, check="x_lookup", outcome=outcome, reason="wrong_author")
    session.commit()
    session.expire_all()
    return session.get_one(Assignment, assignment.id)


@pytest.mark.parametrize(
    ("before", "outcome", "after", "reason"),
    [
        (S.PENDING, Outcome.VERIFIED, S.VERIFIED, None),
        (S.REPORTED, Outcome.VERIFIED, S.VERIFIED, None),
        (S.REJECTED, Outcome.VERIFIED, S.VERIFIED, None),
        (S.DECLINED, Outcome.VERIFIED, S.DECLINED, None),
        (S.REPORTED, Outcome.REJECTED, S.REJECTED, "wrong_author"),
        (S.PENDING, Outcome.REJECTED, S.PENDING, None),
        (S.VERIFIED, Outcome.REJECTED, S.VERIFIED, None),
        (S.REPORTED, Outcome.UNVERIFIABLE, S.REPORTED, None),
        (S.REPORTED, Outcome.ERROR, S.REPORTED, None),
        (S.EXPIRED, Outcome.REJECTED, S.EXPIRED, None),
    ],
)
def test_record_moves_the_assignment_as_documented(
    session: Session,
    assignment: Assignment,
    before: str,
    outcome: str,
    after: str,
    reason: str | None,
) -> None:
    result = _record(session, assignment, before, outcome)

    assert result.status == after
    assert result.rejection_reason == reason
    assert (result.verified_at is not None) == (after == S.VERIFIED and before != S.VERIFIED)
    rows = session.exec(select(Evidence).where(Evidence.assignment_id == assignment.id)).all()
    assert [(e.check, e.outcome) for e in rows] == [("x_lookup", outcome)]


def test_gone_rejects_a_reported_link_as_deleted(session: Session, assignment: Assignment) -> None:
    assignment.status = S.REPORTED
    record(session, assignment, check="x_lookup", outcome=Outcome.GONE)
    session.commit()

    assert (assignment.status, assignment.rejection_reason) == (S.REJECTED, "deleted")
    assert assignment.flagged_gone_at is None


def test_gone_flags_a_verified_repost_but_keeps_it_verified(
    session: Session, assignment: Assignment
) -> None:
    record(session, assignment, check="x_search", outcome=Outcome.VERIFIED, post_id="905")
    verified_at = assignment.verified_at
    record(session, assignment, check="x_lookup", outcome=Outcome.GONE, reason="deleted")
    session.commit()

    assert assignment.status == S.VERIFIED
    assert assignment.verified_at == verified_at
    assert assignment.flagged_gone_at is not None


def test_evidence_keeps_what_was_seen(session: Session, assignment: Assignment) -> None:
    url = "https://x.com/a/status/905"
    record(
        session, assignment, check="x_search", outcome="verified", post_id="905", url=url,
        detail="repost" * 500,
    )  # fmt: skip
    session.commit()

    row = session.exec(select(Evidence)).one()
    assert (row.platform_post_id, row.url, row.seen_at is not None) == ("905", url, True)
    assert len(row.detail) == 1000
