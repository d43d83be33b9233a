"""Supervisor dashboard: own agency's reach, the timeline chart, and the CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from assignments.models import Assignment, Click
from assignments.reach import TimelinePoint
from assignments.reporting import report_repost
from content.models import Campaign, PostStatus
from gaung.db import utcnow
from roster.models import Agency, Asn, Role, SocialAccount
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from tests.web.conftest import login_asn, login_staff
from web.dashboard import CHART_HEIGHT, CHART_WIDTH, cumulative_series, timeline_chart


class Scene:
    """An agency with one campaign: two ASN assigned on X, one of whom reposted."""

    def __init__(self, session: Session) -> None:
        self.agency: Agency = make_agency(session)
        author = make_user(session, self.agency)
        self.campaign: Campaign = make_campaign(session, self.agency)
        post = make_post(session, self.campaign, author, status=PostStatus.DISPATCHED)
        unit = make_unit(session, self.agency, name="Biro Humas")
        self.reposter: Asn = make_asn(session, unit, followers=1234567)
        self.idle: Asn = make_asn(session, unit, followers=800)
        self.done: Assignment = make_assignment(session, post, self.reposter, "x")
        make_assignment(session, post, self.idle, "x")
        handle = select(SocialAccount.handle).where(
            SocialAccount.asn_id == self.reposter.id, SocialAccount.platform == "x"
        )
        self.handle = session.exec(handle).one()
        self.url = f"https://x.com/{self.handle}/status/1790000000000000007"
        assert self.done.id is not None
        report_repost(session, self.reposter, self.done.id, self.url)
        session.add(Click(assignment_id=self.done.id, campaign_id=self.done.campaign_id))
        session.commit()


@pytest.fixture
def scene(session: Session) -> Scene:
    return Scene(session)


def test_supervisor_sees_reported_reposts_and_potential_reach(
    client: TestClient, session: Session, scene: Scene
) -> None:
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    listing = client.get("/dashboard")
    page = client.get(f"/dashboard/campaigns/{scene.campaign.id}")

    assert listing.status_code == 200
    assert scene.campaign.title in listing.text
    assert "1.234.567" in listing.text  # potential reach, Indonesian grouping
    assert "50,0%" in listing.text  # one of two assignments reported
    assert page.status_code == 200
    assert "Jangkauan potensial" in page.text
    assert "1.234.567" in page.text
    assert "Biro Humas" in page.text
    assert scene.reposter.name in page.text
    assert f'href="{scene.url}"' in page.text
    assert "<svg" in page.text
    assert "<polyline" in page.text
    assert "<script" not in page.text.split("<main", 1)[1]  # the chart needs no script


def test_every_staff_role_of_the_agency_can_read(
    client: TestClient, session: Session, scene: Scene
) -> None:
    for role in (Role.EDITOR, Role.APPROVER, Role.ADMIN):
        client.cookies.clear()
        login_staff(client, make_user(session, scene.agency, role=role))
        assert client.get(f"/dashboard/campaigns/{scene.campaign.id}").status_code == 200


def test_another_agencys_campaign_is_not_found(
    client: TestClient, session: Session, scene: Scene
) -> None:
    stranger = make_user(session, make_agency(session), role=Role.SUPERVISOR)
    login_staff(client, stranger)

    page = client.get(f"/dashboard/campaigns/{scene.campaign.id}")
    export = client.get(f"/dashboard/campaigns/{scene.campaign.id}.csv")
    listing = client.get("/dashboard")

    assert (page.status_code, export.status_code) == (404, 404)
    assert scene.campaign.title not in listing.text
    assert scene.campaign.title not in page.text


def test_missing_campaign_is_not_found(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session), role=Role.SUPERVISOR))

    assert client.get("/dashboard/campaigns/999999").status_code == 404


def test_csv_export_has_the_reposter_row(
    client: TestClient, session: Session, scene: Scene
) -> None:
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    response = client.get(f"/dashboard/campaigns/{scene.campaign.id}.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["asn_name"], r["handle"], r["repost_url"]) for r in rows] == [
        (scene.reposter.name, scene.handle, scene.url)
    ]
    assert rows[0]["followers_at_report"] == "1234567"


def test_signed_out_visitor_and_asn_are_sent_to_staff_sign_in(
    client: TestClient, scene: Scene
) -> None:
    anonymous = client.get(f"/dashboard/campaigns/{scene.campaign.id}", follow_redirects=False)
    login_asn(client, scene.reposter)
    as_asn = client.get("/dashboard", follow_redirects=False)

    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
    assert as_asn.status_code == 303
    assert as_asn.headers["location"].startswith("/login")


def test_campaign_without_activity_says_so_instead_of_a_chart(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency, role=Role.SUPERVISOR))

    page = client.get(f"/dashboard/campaigns/{campaign.id}")

    assert page.status_code == 200
    assert "<polyline" not in page.text
    assert "Belum ada repost atau klik." in page.text


_START = datetime(2026, 8, 17, 3, tzinfo=UTC)
_POINTS = re.compile(r"(-?[0-9.]+),(-?[0-9.]+)")


@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.integers(0, 50), st.integers(0, 5000)),
        min_size=1,
        max_size=40,
        unique_by=lambda t: t[0],
    )
)
def test_chart_lines_stay_inside_the_frame_and_end_at_the_total(
    raw: list[tuple[int, int, int]],
) -> None:
    timeline = [
        TimelinePoint(_START + timedelta(hours=h), reposts, clicks)
        for h, reposts, clicks in sorted(raw)
    ]

    chart = timeline_chart(timeline)

    assert chart is not None
    for series, counts in (
        (chart.reposts, [p.reposts for p in timeline]),
        (chart.clicks, [p.clicks for p in timeline]),
    ):
        coords = [(float(x), float(y)) for x, y in _POINTS.findall(series.points)]
        xs, ys = [x for x, _ in coords], [y for _, y in coords]
        assert series.total == sum(counts)
        assert xs == sorted(xs)
        assert all(0 <= x <= CHART_WIDTH for x in xs)
        assert all(0 <= y <= CHART_HEIGHT for y in ys)
        assert ys == sorted(ys, reverse=True)  # a running total never goes down
        if series.total:
            assert min(ys) == ys[-1] < ys[0]  # ends at the top of its own scale


def test_no_timeline_means_no_chart() -> None:
    assert timeline_chart([]) is None


def test_series_of_zeros_is_a_flat_line() -> None:
    points = [TimelinePoint(utcnow(), 0, 0)]
    series = cumulative_series(points, [0], points[0].bucket, points[0].bucket + timedelta(1))

    ys = {y for _, y in _POINTS.findall(series.points)}
    assert series.total == 0
    assert len(ys) == 1
