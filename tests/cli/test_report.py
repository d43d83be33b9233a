"""`gaung report` prints the dashboard's headline figures: the same numbers, labels and source.

The CLI speaks English; the dashboard is read in English here (lang cookie) so the two can be
compared line by line. A big campaign is served from its snapshot on both.
"""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from assignments import reach_snapshot
from assignments.evidence import Check, Outcome, Reason, record
from assignments.models import Assignment, AssignmentStatus, Click
from assignments.reach import campaign_reach
from cli.main import app
from content.models import Campaign, PostStatus
from roster.models import Agency, Role
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from tests.web.conftest import client, login_staff  # noqa: F401 - the web client fixture

runner = CliRunner()
_TILE = re.compile(r'<li data-figure="([a-z_]+)">([^<]*)<strong>([^<]*)</strong></li>')


def _campaign(session: Session) -> Campaign:
    """X: verified, reported, rejected; Facebook: reported; Instagram: a personal account."""
    agency = make_agency(session)
    editor = make_user(session, agency)
    unit = make_unit(session, agency, name="Direktorat Jenderal Aplikasi Informatika")
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, status=PostStatus.DISPATCHED)
    plan = [("x", "verified"), ("x", "reported"), ("x", "rejected"), ("x", "pending"),
            ("facebook", "reported"), ("instagram", "reported")]  # fmt: skip
    for n, (platform, status) in enumerate(plan):
        assignment = make_assignment(session, post, make_asn(session, unit), platform)
        if status == "pending":
            continue
        assignment.status = AssignmentStatus.REPORTED
        assignment.followers_at_report = 1000 * (n + 1)
        if platform == "instagram":
            record(
                session, assignment, check=Check.INSTAGRAM_GRAPH, outcome=Outcome.UNVERIFIABLE,
                reason=Reason.NOT_SUPPORTED, detail="personal account",
            )  # fmt: skip
        elif status != "reported":
            outcome = Outcome.VERIFIED if status == "verified" else Outcome.REJECTED
            record(session, assignment, check=Check.X_LOOKUP, outcome=outcome)
        session.add(assignment)
        session.add(Click(assignment_id=assignment.id or 0, campaign_id=campaign.id or 0))
    session.commit()
    return campaign


def _dashboard_tiles(session: Session, client: TestClient, campaign: Campaign) -> list[str]:  # noqa: F811
    """The headline tiles of the campaign's page, read by a supervisor in English."""
    login_staff(
        client,
        make_user(session, session.get_one(Agency, campaign.agency_id), role=Role.SUPERVISOR),
    )
    client.cookies.set("lang", "en")
    page = client.get(f"/dashboard/campaigns/{campaign.id}")
    assert page.status_code == 200
    tiles = _TILE.findall(page.text)
    return [f"{html.unescape(label).strip()}: {html.unescape(value)}" for _k, label, value in tiles]


def _cli_lines(campaign_id: int) -> list[str]:
    result = runner.invoke(app, ["report", str(campaign_id)])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_the_report_prints_the_dashboards_headline_figures(
    db: Engine,
    session: Session,
    client: TestClient,  # noqa: F811
) -> None:
    campaign = _campaign(session)

    tiles = _dashboard_tiles(session, client, campaign)
    lines = _cli_lines(campaign.id or 0)

    assert len(tiles) == 9
    assert lines[: len(tiles)] == tiles
    # X: 1 verified of 3 claimed; Facebook and the personal Instagram account apart.
    assert "Verification rate (verifiable reposts): 33.3% (1 of 3)" in lines
    assert "Reported, not verifiable: 2" in lines


def test_a_big_campaign_reports_live_counts_and_its_snapshot_like_the_dashboard(
    db: Engine,
    session: Session,
    client: TestClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign = _campaign(session)
    campaign_id = campaign.id or 0
    reach_snapshot.store_snapshot(session, campaign_reach(session, campaign_id), 0.5)
    session.commit()
    monkeypatch.setattr(reach_snapshot, "LIVE_LIMIT", 1)
    # A click after the snapshot: the page and the report both count it (live roll-ups).
    clicks = campaign_reach(session, campaign_id).total.clicks
    first = session.exec(select(Assignment.id).where(Assignment.campaign_id == campaign_id)).first()
    session.add(Click(assignment_id=first or 0, campaign_id=campaign_id))
    session.commit()

    tiles = _dashboard_tiles(session, client, campaign)
    lines = _cli_lines(campaign_id)

    assert lines[: len(tiles)] == tiles
    assert f"Clicks: {clicks + 1}" in lines
    assert campaign_reach(session, campaign_id).total.clicks == clicks + 1
    assert any(
        line.startswith("Counts live; medians, impressions and timeline as of ") for line in lines
    )
