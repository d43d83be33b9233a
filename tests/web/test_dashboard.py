"""Supervisor dashboard: own agency's reach, the timeline chart, and the CSV and XLSX exports."""

from __future__ import annotations

import codecs
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from assignments import reach_snapshot
from assignments.metrics import RepostMetrics, count_calls
from assignments.models import Assignment, Click
from assignments.reach import ReachFigures, TimelinePoint, as_utc, campaign_reach
from assignments.reach_export import ASSIGNMENTS_SHEET, SUMMARY_FIGURES, SUMMARY_SHEET
from assignments.reach_snapshot import store_snapshot
from assignments.reporting import report_repost
from content.models import Campaign, Post, PostStatus
from gaung.db import utcnow
from gaung.i18n import use_locale
from kernel.models import WorkItem
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
from web.dashboard import (
    BAR_LABEL,
    BAR_ROW,
    CHART_HEIGHT,
    CHART_PAD,
    CHART_WIDTH,
    cumulative_series,
    duration,
    timeline_chart,
    verification_chart,
)


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
    exports = [
        client.get(f"/dashboard/campaigns/{scene.campaign.id}{suffix}").status_code
        for suffix in (".csv", ".xlsx", "/summary.csv")
    ]
    listing = client.get("/dashboard")

    assert (page.status_code, exports) == (404, [404, 404, 404])
    assert scene.campaign.title not in listing.text
    assert scene.campaign.title not in page.text


def test_missing_campaign_is_not_found(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session), role=Role.SUPERVISOR))

    assert client.get("/dashboard/campaigns/999999").status_code == 404


def _excel_id_rows(response: httpx.Response) -> list[dict[str, str]]:
    """A CSV for Indonesian Excel: UTF-8 with a BOM, ";" between fields."""
    assert response.content.startswith(codecs.BOM_UTF8)
    text = response.content.decode("utf-8-sig")
    assert ";" in text.splitlines()[0]
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def _in_zone(session: Session, agency: Agency, zone: str) -> None:
    agency.timezone = zone
    session.add(agency)
    session.commit()


def test_csv_export_lists_every_assignment_in_the_agencys_zone(
    client: TestClient, session: Session, scene: Scene
) -> None:
    _in_zone(session, scene.agency, "Asia/Jayapura")
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    response = client.get(f"/dashboard/campaigns/{scene.campaign.id}.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    rows = _excel_id_rows(response)
    by_name = {r["Nama ASN"]: r for r in rows}
    assert set(by_name) == {scene.reposter.name, scene.idle.name}  # the idle one too
    done, idle = by_name[scene.reposter.name], by_name[scene.idle.name]
    assert (done["Akun"], done["Tautan repost"], done["Status"]) == (
        scene.handle,
        scene.url,
        "Dilaporkan",
    )
    assert done["Pengikut saat lapor"] == "1234567"
    assert (idle["Status"], idle["Dilaporkan (WIT)"], idle["Pengikut saat lapor"]) == (
        "Belum dikerjakan",
        "",
        "",
    )
    reported = session.get_one(Assignment, scene.done.id).reported_at
    assert reported is not None
    wit = as_utc(reported).astimezone(ZoneInfo("Asia/Jayapura"))
    assert done["Dilaporkan (WIT)"] == wit.strftime("%Y-%m-%d %H:%M")


def test_the_xlsx_export_has_the_dashboards_totals_and_every_assignment(
    client: TestClient, session: Session, scene: Scene
) -> None:
    _in_zone(session, scene.agency, "Asia/Makassar")
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    response = client.get(f"/dashboard/campaigns/{scene.campaign.id}.xlsx")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert response.headers["content-disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    totals = list(book[SUMMARY_SHEET].iter_rows(values_only=True))
    assert scene.campaign.id is not None
    reach = campaign_reach(session, scene.campaign.id)
    assert totals[1][2:] == pytest.approx(
        tuple(get(reach.total) for _n, _k, get in SUMMARY_FIGURES)
    )
    assert totals[1][2:4] == (2, 1)  # two assigned, one reported
    sheet = book[ASSIGNMENTS_SHEET]
    header = [c.value for c in sheet[1]]
    assert "Dilaporkan (WITA)" in header
    names = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert names == {scene.reposter.name, scene.idle.name}  # the one who did nothing too


def test_the_page_links_the_downloads_in_indonesian(
    client: TestClient, session: Session, scene: Scene
) -> None:
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    page = client.get(f"/dashboard/campaigns/{scene.campaign.id}").text

    assert f'href="/dashboard/campaigns/{scene.campaign.id}.xlsx"' in page
    assert f'href="/dashboard/campaigns/{scene.campaign.id}.csv"' in page
    assert "Unduh Excel (XLSX)" in page
    assert "Unduh CSV penugasan" in page


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


def test_the_page_shows_verification_measured_reach_and_api_calls(
    client: TestClient, session: Session, scene: Scene
) -> None:
    assert scene.done.id is not None
    session.add(
        RepostMetrics(
            assignment_id=scene.done.id, campaign_id=scene.campaign.id or 0, platform="x",
            window="1h", platform_post_id="1790000000000000007", impressions=4321, likes=5,
        )
    )  # fmt: skip
    count_calls(
        session, campaign_id=scene.campaign.id or 0, platform="x", purpose="metrics", calls=3
    )
    session.commit()
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    page = client.get(f"/dashboard/campaigns/{scene.campaign.id}").text

    assert "Tingkat verifikasi" in page
    assert "Jangkauan potensial, repost terverifikasi" in page
    assert "4.321" in page  # measured impressions
    assert "Median waktu hingga repost" in page
    assert "Panggilan API" in page
    assert "Hasil akhir penugasan" in page  # the verification chart ...
    assert "<rect" in page  # ... drawn as SVG bars
    assert "Tayangan repost yang terukur" in page


def test_figures_nobody_returned_say_not_returned_not_zero(
    client: TestClient, session: Session, scene: Scene
) -> None:
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    page = client.get(f"/dashboard/campaigns/{scene.campaign.id}").text

    assert "Tidak tersedia" in page
    assert "belum ada platform yang memberikan angka tayangan" in page


def test_a_big_campaign_shows_live_counts_with_its_snapshot_and_refreshes_it_when_stale(
    client: TestClient, session: Session, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_id = scene.campaign.id or 0
    snapshot = store_snapshot(session, campaign_reach(session, campaign_id), 2.0)
    snapshot.computed_at = utcnow() - timedelta(minutes=30)
    session.add(snapshot)
    session.commit()
    monkeypatch.setattr(reach_snapshot, "LIVE_LIMIT", 1)
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    page = client.get(f"/dashboard/campaigns/{campaign_id}").text
    listing = client.get("/dashboard").text

    assert "dan linimasa per" in page  # the snapshot's part is dated; counts are live
    assert "1.234.567" in page
    assert "1.234.567" in listing
    items = session.exec(select(WorkItem).where(WorkItem.kind == "reach_snapshot")).all()
    assert len(items) == 1  # the stale snapshot asked for its successor


def test_the_summary_csv_has_one_row_per_scope(
    client: TestClient, session: Session, scene: Scene
) -> None:
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    response = client.get(f"/dashboard/campaigns/{scene.campaign.id}/summary.csv")

    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    rows = _excel_id_rows(response)
    assert [(r["Lingkup"], r["Nama"]) for r in rows] == [
        ("Kampanye", ""),
        ("Platform", "X"),
        ("Unit", "Biro Humas"),
    ]
    assert rows[0]["Jangkauan potensial dilaporkan"] == "1234567"
    assert rows[0]["Tingkat penyelesaian (%)"] == "50,00"
    assert rows[0]["Tayangan"] == ""  # not returned: empty


@given(
    st.lists(
        st.tuples(
            st.integers(1, 5000), st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 50)
        ),
        min_size=1,
        max_size=3,
    )
)
def test_verification_bars_fill_each_row_within_the_frame(
    raw: list[tuple[int, int, int, int]],
) -> None:
    by_platform = {}
    for (assigned, reported, verified, unverifiable), platform in zip(
        raw, ("x", "facebook", "instagram"), strict=False
    ):
        reported = min(reported, assigned)
        verified = min(verified, reported)
        by_platform[platform] = ReachFigures(
            assignments=assigned, reported=reported, verified=verified,
            rejected=min(1, assigned - reported),
            unverifiable=min(unverifiable, reported - verified),  # reported, never checkable
        )  # fmt: skip

    chart = verification_chart(by_platform)

    assert chart is not None
    for index in range(len(by_platform)):
        row = [b for b in chart.bars if b.y == CHART_PAD + index * BAR_ROW]
        right = max(b.x + b.width for b in row)
        assert right <= CHART_WIDTH - CHART_PAD + 0.5
        assert abs(sum(b.width for b in row) - (CHART_WIDTH - BAR_LABEL - CHART_PAD)) < 0.5
        assert all(b.width > 0 for b in row)
    assert verification_chart({}) is None


def test_durations_read_as_hours_and_minutes() -> None:
    with use_locale("en"):
        assert duration(None) == "—"
        assert duration(25 * 60) == "25 min"
        assert duration(85 * 60 + 10) == "1 h 25 min"


def test_a_reported_facebook_or_instagram_repost_says_it_cannot_be_verified_automatically(
    client: TestClient, session: Session, scene: Scene
) -> None:
    post = session.exec(select(Assignment).where(Assignment.id == scene.done.id)).one()
    facebook = make_assignment(session, session.get_one(Post, post.post_id), scene.idle, "facebook")
    assert facebook.id is not None
    link = "https://www.facebook.com/permalink.php?story_fbid=1&id=2"
    facebook.status, facebook.repost_url, facebook.reported_at = "reported", link, utcnow()
    session.add(facebook)
    session.commit()
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    page = client.get(f"/dashboard/campaigns/{scene.campaign.id}").text

    rows = [
        row for row in page.split("<tr>") if scene.idle.name in row or scene.reposter.name in row
    ]
    facebook_row = next(row for row in rows if scene.idle.name in row)
    x_row = next(row for row in rows if scene.reposter.name in row)
    assert "tidak dapat diverifikasi otomatis" in facebook_row
    assert "tidak dapat diverifikasi otomatis" not in x_row  # X is checked by the search
