"""Reach figures on a small, hand-computed campaign (conftest.seeded)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session, select

from assignments.evidence import VerifyCursor
from assignments.metrics import count_calls
from assignments.models import Assignment
from assignments.reach import TimelinePoint, campaign_reach
from content.models import PostStatus
from gaung.errors import NotFoundError
from roster.models import Asn
from tests.assignments.conftest import at, figures_of
from tests.factories import make_agency, make_campaign, make_post, make_unit, make_user


def test_totals_platforms_and_units_match_the_hand_count(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    reach = campaign_reach(session, seeded[0])

    assert figures_of(reach.total) == (7, 4, 2, 1, 8300, 4)
    assert reach.total.completion_rate == pytest.approx(4 / 7)
    assert {p: figures_of(f) for p, f in reach.by_platform.items()} == {
        "x": (4, 3, 1, 1, 6800, 3),
        "facebook": (2, 1, 1, 0, 1500, 0),
        "instagram": (1, 0, 0, 0, 0, 1),
    }
    assert list(reach.by_platform) == ["x", "facebook", "instagram"]
    assert {u: figures_of(f) for u, f in reach.by_unit.items()} == {
        "Biro Humas": (4, 2, 1, 1, 2500, 3),
        "Biro Hukum": (3, 2, 1, 0, 5800, 1),
    }
    assert reach.by_platform["instagram"].completion_rate == 0.0


def test_the_timeline_buckets_reposts_and_clicks_by_utc_hour(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # A session time zone other than UTC must not shift the buckets.
        session.execute(text("SET LOCAL TIME ZONE 'Asia/Jakarta'"))
    timeline = campaign_reach(session, seeded[0]).timeline
    session.rollback()

    assert timeline == [
        TimelinePoint(at(9, 0), 0, 1),
        TimelinePoint(at(10, 0), 2, 2),
        TimelinePoint(at(12, 0), 2, 1),
    ]
    assert all(point.bucket.tzinfo is not None for point in timeline)


def test_an_unknown_campaign_is_not_found(session: Session) -> None:
    with pytest.raises(NotFoundError):
        campaign_reach(session, 424242)


def test_a_campaign_without_assignments_has_zero_figures(session: Session) -> None:
    campaign = make_campaign(session, make_agency(session))
    reach = campaign_reach(session, campaign.id or 0)
    assert figures_of(reach.total) == (0, 0, 0, 0, 0, 0)
    assert reach.total.completion_rate == 0.0
    assert (reach.by_platform, reach.by_unit, reach.timeline, reach.reposters) == ({}, {}, [], [])


def test_verification_rates_and_verified_reach_match_the_hand_count(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    reach = campaign_reach(session, seeded[0])

    total = reach.total
    assert (total.rejected, total.expired, total.verified_reach) == (1, 0, 6500)
    # verified / (reported + verified + rejected), on X only: Facebook is never verifiable
    assert total.verification_rate == pytest.approx(1 / 3)
    assert total.verified_rate == pytest.approx(2 / 7)  # verified / assigned
    assert reach.by_platform["x"].verification_rate == pytest.approx(1 / 3)
    assert reach.by_platform["facebook"].verification_rate is None
    assert reach.by_platform["instagram"].verification_rate is None  # nothing to check yet
    assert reach.by_unit["Biro Hukum"].verified_reach == 5000


def _timed(session: Session, campaign_id: int, post_id: int, unit_id: int) -> None:
    """Assignments dispatched at 10:00 and reposted after 10, 20, 30 and 60 minutes."""
    for n, (platform, minutes, status) in enumerate(
        [("x", 10, "verified"), ("x", 30, "reported"), ("facebook", 20, "reported"),
         ("facebook", 60, "verified"), ("x", 5, "rejected"), ("x", None, "pending")]
    ):  # fmt: skip
        session.add(
            Assignment(
                post_id=post_id, campaign_id=campaign_id, unit_id=unit_id, platform=platform,
                code=f"timed{campaign_id}-{n}", status=status,
                deadline=at(23, 0), created_at=at(10, 0),
                reported_at=at(10, minutes) if minutes is not None and minutes < 60 else
                (at(11, 0) if minutes == 60 else None),
            )
        )  # fmt: skip
    session.commit()


def test_median_time_from_dispatch_to_repost_per_scope(session: Session) -> None:
    agency = make_agency(session)
    author = make_user(session, agency)
    unit = make_unit(session, agency, "Biro Humas")
    campaign = make_campaign(session, agency)
    post = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
    assert campaign.id is not None
    assert post.id is not None
    assert unit.id is not None
    _timed(session, campaign.id, post.id, unit.id)

    reach = campaign_reach(session, campaign.id)

    # Reposts (reported + verified): 10, 30, 20, 60 minutes; a rejected claim is not a repost.
    assert reach.total.median_repost_seconds == pytest.approx(25 * 60)
    assert reach.by_platform["x"].median_repost_seconds == pytest.approx(20 * 60)
    assert reach.by_platform["facebook"].median_repost_seconds == pytest.approx(40 * 60)
    assert reach.by_unit["Biro Humas"].median_repost_seconds == pytest.approx(25 * 60)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(min_value=0, max_value=72 * 3600), min_size=1, max_size=9))
def test_the_database_median_is_the_median(session: Session, delays: list[int]) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    campaign = make_campaign(session, agency)
    post = make_post(session, campaign, make_user(session, agency))
    start = datetime(2026, 3, 1, tzinfo=UTC)
    session.add_all(
        Assignment(
            post_id=post.id or 0, campaign_id=campaign.id or 0, unit_id=unit.id or 0,
            platform="x", code=f"m{campaign.id}-{n}", status="reported",
            deadline=start + timedelta(days=5), created_at=start,
            reported_at=start + timedelta(seconds=delay),
        )
        for n, delay in enumerate(delays)
    )  # fmt: skip
    session.commit()

    reach = campaign_reach(session, campaign.id or 0)

    assert reach.total.median_repost_seconds == pytest.approx(statistics.median(delays))


def test_api_calls_add_verification_and_metrics_per_platform(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    campaign_id = seeded[0]
    post_id = session.exec(select(Assignment.post_id).where(Assignment.campaign_id == campaign_id))
    post = next(iter(post_id))
    session.add(VerifyCursor(post_id=post, platform="x", campaign_id=campaign_id, api_calls=7))
    count_calls(session, campaign_id=campaign_id, platform="x", purpose="metrics", calls=3)
    count_calls(session, campaign_id=campaign_id, platform="x", purpose="metrics", calls=2)
    count_calls(session, campaign_id=campaign_id, platform="facebook", purpose="metrics", calls=1)
    count_calls(session, platform="x", purpose="followers", calls=50)  # not this campaign's
    session.commit()

    reach = campaign_reach(session, campaign_id)

    assert {p: (c.verification, c.metrics) for p, c in reach.api_calls.items()} == {
        "x": (7, 5),
        "facebook": (0, 1),
    }
    assert list(reach.api_calls) == ["x", "facebook"]
    assert reach.api_calls_total == 13
