"""A small campaign whose reach figures are counted by hand, shared by the reach tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from assignments.models import Assignment, Click
from assignments.reach import ReachFigures
from content.models import PostStatus
from roster.models import Asn
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

WIB = timezone(timedelta(hours=7))


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)


def _set(session: Session, assignment: Assignment, **values: object) -> Assignment:
    for name, value in values.items():
        setattr(assignment, name, value)
    session.add(assignment)
    session.commit()
    return assignment


def add_clicks(session: Session, assignment: Assignment, *moments: datetime) -> None:
    assert assignment.id is not None
    for moment in moments:
        session.add(
            Click(assignment_id=assignment.id, campaign_id=assignment.campaign_id, at=moment)
        )
    session.commit()


@pytest.fixture
def seeded(session: Session) -> tuple[int, dict[str, Asn]]:
    """Two units, four ASN, seven assignments; one ASN has since left.

    | who | unit       | platform  | status    | followers | reported (UTC) | clicks |
    | a1  | Biro Humas | x         | reported  | 1000      | 10:05 (17:05 WIB) | 2   |
    | a1  | Biro Humas | facebook  | verified  | 1500      | 10:45          | 0      |
    | a2  | Biro Humas | x         | declined  | -         | -              | 0      |
    | a2  | Biro Humas | instagram | pending   | -         | -              | 1      |
    | a3  | Biro Hukum | x         | verified  | 5000      | 12:05          | 1      |
    | a3  | Biro Hukum | facebook  | rejected  | 700       | 11:00          | 0      |
    | —   | Biro Hukum | x         | reported  | 800       | 12:40          | 0      |
    """
    agency = make_agency(session)
    author = make_user(session, agency)
    humas = make_unit(session, agency, "Biro Humas")
    hukum = make_unit(session, agency, "Biro Hukum")
    campaign = make_campaign(session, agency)
    post = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
    a1, a2 = make_asn(session, humas), make_asn(session, humas)
    a3, a4 = make_asn(session, hukum), make_asn(session, hukum)

    a1x = _set(
        session,
        make_assignment(session, post, a1, "x"),
        status="reported",
        followers_at_report=1000,
        reported_at=datetime(2026, 3, 1, 17, 5, tzinfo=WIB),
        repost_url="https://x.com/a1/status/1",
    )
    _set(
        session,
        make_assignment(session, post, a1, "facebook"),
        status="verified",
        followers_at_report=1500,
        reported_at=at(10, 45),
        repost_url="https://facebook.com/a1/posts/2",
    )
    _set(
        session,
        make_assignment(session, post, a2, "x"),
        status="declined",
        decline_reason="Sedang cuti",
    )
    a2ig = make_assignment(session, post, a2, "instagram")
    a3x = _set(
        session,
        make_assignment(session, post, a3, "x"),
        status="verified",
        followers_at_report=5000,
        reported_at=at(12, 5),
        repost_url="https://x.com/a3/status/3",
    )
    _set(
        session,
        make_assignment(session, post, a3, "facebook"),
        status="rejected",
        followers_at_report=700,
        reported_at=at(11, 0),
    )
    _set(
        session,
        make_assignment(session, post, a4, "x"),
        status="reported",
        followers_at_report=800,
        reported_at=at(12, 40),
        repost_url="https://x.com/a4/status/4",
        asn_id=None,
        account_id=None,
    )

    add_clicks(session, a1x, at(10, 20), at(10, 59))
    add_clicks(session, a3x, at(12, 30))
    add_clicks(session, a2ig, at(9, 10))

    # Another campaign's activity must not leak in.
    other = make_post(session, make_campaign(session, agency), author)
    stray = _set(
        session,
        make_assignment(session, other, a1, "x"),
        status="verified",
        followers_at_report=99999,
        reported_at=at(10, 30),
    )
    add_clicks(session, stray, at(10, 30))
    assert campaign.id is not None
    return campaign.id, {"a1": a1, "a3": a3}


def figures_of(reach: ReachFigures) -> tuple[int, ...]:
    """The six figures the tests count by hand."""
    return (
        reach.assignments,
        reach.reported,
        reach.verified,
        reach.declined,
        reach.potential_reach,
        reach.clicks,
    )
