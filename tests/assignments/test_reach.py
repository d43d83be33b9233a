"""Reach figures on a small, hand-computed campaign."""

from __future__ import annotations

import csv
import io
import statistics
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session, select

from assignments import reach as reach_module
from assignments.evidence import VerifyCursor
from assignments.metrics import count_calls
from assignments.models import Assignment, Click
from assignments.reach import (
    CSV_COLUMNS,
    CampaignReach,
    ReachFigures,
    Reposter,
    TimelinePoint,
    campaign_reach,
    campaign_totals,
    dashboard_reach,
    from_payload,
    reach_csv,
    store_snapshot,
    summary_csv,
    summary_rows,
    to_payload,
)
from content.models import PostStatus
from gaung.errors import NotFoundError
from gaung.i18n import use_locale
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


def _at(hour: int, minute: int) -> datetime:
    return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)


def _set(session: Session, assignment: Assignment, **values: object) -> Assignment:
    for name, value in values.items():
        setattr(assignment, name, value)
    session.add(assignment)
    session.commit()
    return assignment


def _clicks(session: Session, assignment: Assignment, *moments: datetime) -> None:
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
        reported_at=_at(10, 45),
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
        reported_at=_at(12, 5),
        repost_url="https://x.com/a3/status/3",
    )
    _set(
        session,
        make_assignment(session, post, a3, "facebook"),
        status="rejected",
        followers_at_report=700,
        reported_at=_at(11, 0),
    )
    _set(
        session,
        make_assignment(session, post, a4, "x"),
        status="reported",
        followers_at_report=800,
        reported_at=_at(12, 40),
        repost_url="https://x.com/a4/status/4",
        asn_id=None,
        account_id=None,
    )

    _clicks(session, a1x, _at(10, 20), _at(10, 59))
    _clicks(session, a3x, _at(12, 30))
    _clicks(session, a2ig, _at(9, 10))

    # Another campaign's activity must not leak in.
    other = make_post(session, make_campaign(session, agency), author)
    stray = _set(
        session,
        make_assignment(session, other, a1, "x"),
        status="verified",
        followers_at_report=99999,
        reported_at=_at(10, 30),
    )
    _clicks(session, stray, _at(10, 30))
    assert campaign.id is not None
    return campaign.id, {"a1": a1, "a3": a3}


def _figures(reach: ReachFigures) -> tuple[int, ...]:
    return (
        reach.assignments,
        reach.reported,
        reach.verified,
        reach.declined,
        reach.potential_reach,
        reach.clicks,
    )


def test_totals_platforms_and_units_match_the_hand_count(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    reach = campaign_reach(session, seeded[0])

    assert _figures(reach.total) == (7, 4, 2, 1, 8300, 4)
    assert reach.total.completion_rate == pytest.approx(4 / 7)
    assert {p: _figures(f) for p, f in reach.by_platform.items()} == {
        "x": (4, 3, 1, 1, 6800, 3),
        "facebook": (2, 1, 1, 0, 1500, 0),
        "instagram": (1, 0, 0, 0, 0, 1),
    }
    assert list(reach.by_platform) == ["x", "facebook", "instagram"]
    assert {u: _figures(f) for u, f in reach.by_unit.items()} == {
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
        TimelinePoint(_at(9, 0), 0, 1),
        TimelinePoint(_at(10, 0), 2, 2),
        TimelinePoint(_at(12, 0), 2, 1),
    ]
    assert all(point.bucket.tzinfo is not None for point in timeline)


def test_reposters_are_listed_in_report_order_and_a_leaver_shows_a_dash(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    campaign_id, people = seeded
    reach = campaign_reach(session, campaign_id)

    rows = [(r.asn_name, r.unit, r.platform, r.followers) for r in reach.reposters]
    assert rows == [
        (people["a1"].name, "Biro Humas", "x", 1000),
        (people["a1"].name, "Biro Humas", "facebook", 1500),
        (people["a3"].name, "Biro Hukum", "x", 5000),
        ("—", "Biro Hukum", "x", 800),
    ]
    assert reach.reposters[0].handle.endswith("_x")
    assert reach.reposters[-1].handle == "—"


def test_the_csv_has_a_header_and_one_row_per_reposter(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    campaign_id, people = seeded
    rows = list(csv.reader(io.StringIO(reach_csv(campaign_reach(session, campaign_id)))))

    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 5
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert first["asn_name"] == people["a1"].name
    assert first["followers_at_report"] == "1000"
    assert first["repost_url"] == "https://x.com/a1/status/1"
    assert first["reported_at"] == "2026-03-01T10:05:00+00:00"
    assert rows[4][:2] == ["—", "Biro Hukum"]


def test_csv_cells_cannot_smuggle_spreadsheet_formulas() -> None:
    reach = CampaignReach(campaign_id=1)
    reach.reposters.append(
        Reposter(
            asn_name='=HYPERLINK("http://evil")',
            unit="Biro",
            platform="x",
            handle="h",
            followers=1,
            repost_url=None,
            reported_at=None,
            status="reported",
        )
    )
    row = list(csv.reader(io.StringIO(reach_csv(reach))))[1]
    assert row[0].startswith("'=")


def test_summary_rows_give_the_campaign_then_platforms_then_units(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    with use_locale("en"):
        rows = summary_rows(campaign_reach(session, seeded[0]))
    assert rows[0] == ("Campaign total", "", "7", "4", "2", "1", "57.1%", "8,300", "4")
    assert [r[:2] for r in rows[1:]] == [
        ("By platform", "x"),
        ("By platform", "facebook"),
        ("By platform", "instagram"),
        ("By unit", "Biro Hukum"),
        ("By unit", "Biro Humas"),
    ]


def test_an_unknown_campaign_is_not_found(session: Session) -> None:
    with pytest.raises(NotFoundError):
        campaign_reach(session, 424242)


def test_a_campaign_without_assignments_has_zero_figures(session: Session) -> None:
    campaign = make_campaign(session, make_agency(session))
    reach = campaign_reach(session, campaign.id or 0)
    assert _figures(reach.total) == (0, 0, 0, 0, 0, 0)
    assert reach.total.completion_rate == 0.0
    assert (reach.by_platform, reach.by_unit, reach.timeline, reach.reposters) == ({}, {}, [], [])


def test_campaign_totals_give_each_listed_campaign_its_hand_count(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    empty = make_campaign(session, make_agency(session))
    totals = campaign_totals(session, [seeded[0], empty.id or 0])

    assert _figures(totals[seeded[0]]) == (7, 4, 2, 1, 8300, 4)
    assert _figures(totals[empty.id or 0]) == (0, 0, 0, 0, 0, 0)
    assert campaign_totals(session, []) == {}


def test_verification_rates_and_verified_reach_match_the_hand_count(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    reach = campaign_reach(session, seeded[0])

    total = reach.total
    assert (total.rejected, total.expired, total.verified_reach) == (1, 0, 6500)
    assert total.verification_rate == pytest.approx(2 / 5)  # verified / (reported + rejected)
    assert total.verified_rate == pytest.approx(2 / 7)  # verified / assigned
    assert reach.by_platform["x"].verification_rate == pytest.approx(1 / 3)
    assert reach.by_platform["facebook"].verification_rate == pytest.approx(1 / 2)
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
                code=f"timed{campaign_id}-{n}", text="t", status=status,
                deadline=_at(23, 0), created_at=_at(10, 0),
                reported_at=_at(10, minutes) if minutes is not None and minutes < 60 else
                (_at(11, 0) if minutes == 60 else None),
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
            platform="x", code=f"m{campaign.id}-{n}", text="t", status="reported",
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


def test_the_summary_csv_has_a_row_per_scope_and_says_not_returned(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    rows = list(csv.DictReader(io.StringIO(summary_csv(campaign_reach(session, seeded[0])))))

    assert [(r["scope"], r["name"]) for r in rows][:4] == [
        ("campaign", ""),
        ("platform", "x"),
        ("platform", "facebook"),
        ("platform", "instagram"),
    ]
    assert rows[0]["verification_rate"] == "0.4000"
    assert rows[0]["potential_reach_verified"] == "6500"
    assert rows[0]["impressions"] == "not_returned"
    assert rows[3]["verification_rate"] == ""


def test_a_snapshot_round_trips_every_figure(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    reach = campaign_reach(session, seeded[0])

    copy = from_payload(to_payload(reach))

    assert copy == reach


def test_big_campaigns_are_served_from_their_snapshot(
    session: Session, seeded: tuple[int, dict[str, Asn]], monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_id = seeded[0]
    store_snapshot(session, campaign_reach(session, campaign_id), 1.5)
    session.commit()
    assert dashboard_reach(session, campaign_id).as_of is None  # 7 assignments: live
    monkeypatch.setattr(reach_module, "LIVE_LIMIT", 5)
    # Activity after the snapshot shows only in the next one.
    extra = session.exec(select(Assignment).where(Assignment.campaign_id == campaign_id)).first()
    assert extra is not None
    _clicks(session, extra, _at(13, 0))

    served = dashboard_reach(session, campaign_id)

    assert served.as_of is not None
    assert served.total.clicks == 4
    assert campaign_totals(session, [campaign_id])[campaign_id].clicks == 4
    assert campaign_reach(session, campaign_id).total.clicks == 5
