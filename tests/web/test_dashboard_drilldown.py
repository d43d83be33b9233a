"""Drill-downs from the campaign dashboard: a page per post and a page per unit.

Linked from the campaign page's tables, scoped to the reader's agency like the rest (another
agency's supervisor, a post of another campaign, a unit of another agency: 404), and honest
about what cannot be verified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from assignments.evidence import Check, Outcome, Reason, record
from assignments.models import Assignment, AssignmentStatus
from content.models import Campaign, Post, PostStatus
from roster.models import Agency, Asn, Role, Unit
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from tests.web.conftest import login_staff
from web import dashboard

LONG_UNIT = "Direktorat Jenderal Pengendalian Pos dan Informatika Sekretariat Direktorat"


@dataclass
class Scene:
    agency: Agency
    campaign: Campaign
    posts: list[Post]
    units: list[Unit]
    people: list[Asn]


def _claim(session: Session, assignment: Assignment, outcome: str | None = None) -> None:
    assignment.status = AssignmentStatus.REPORTED
    assignment.followers_at_report = 2500
    if outcome == Outcome.UNVERIFIABLE:
        record(
            session, assignment, check=Check.INSTAGRAM_GRAPH, outcome=outcome,
            reason=Reason.NOT_SUPPORTED, detail="personal account",
        )  # fmt: skip
    elif outcome is not None:
        record(session, assignment, check=Check.X_SEARCH, outcome=outcome)
    session.add(assignment)


def _scene(session: Session) -> Scene:
    """Two posts, two units; X verified, Facebook reported, a personal Instagram account."""
    agency = make_agency(session)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency)
    posts = [
        make_post(session, campaign, author, status=PostStatus.DISPATCHED, text=text)
        for text in ("Pekan Literasi Digital dimulai hari ini.", "Waspada hoaks banjir.")
    ]
    units = [make_unit(session, agency, LONG_UNIT), make_unit(session, agency, "Biro Humas")]
    people = [make_asn(session, units[0]), make_asn(session, units[0]), make_asn(session, units[1])]
    _claim(session, make_assignment(session, posts[0], people[0], "x"), Outcome.VERIFIED)
    _claim(session, make_assignment(session, posts[0], people[0], "facebook"))
    _claim(
        session, make_assignment(session, posts[1], people[1], "instagram"), Outcome.UNVERIFIABLE
    )
    make_assignment(session, posts[1], people[2], "x")
    session.commit()
    return Scene(agency, campaign, posts, units, people)


def _cell(page: str, figure: str) -> list[str]:
    """The figure's cells in the tables (not the headline tiles), top to bottom."""
    return re.findall(rf'<td [^>]*data-figure="{figure}">([^<]*)<', page)


def test_the_campaign_page_links_each_post_and_unit_to_its_page(
    client: TestClient, session: Session
) -> None:
    scene = _scene(session)
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    page = client.get(f"/dashboard/campaigns/{scene.campaign.id}").text

    base = f"/dashboard/campaigns/{scene.campaign.id}"
    for post in scene.posts:
        assert f'href="{base}/posts/{post.id}"' in page
    for unit in scene.units:
        assert f'href="{base}/units/{unit.id}"' in page
    assert "Pekan Literasi Digital" in page  # a post is named by its text
    # The headline: X 1 of 1; Facebook and the personal Instagram account apart.
    assert "100,0% (1 dari 1)" in page
    assert "Dilaporkan, tidak dapat diverifikasi" in page
    # Who reposted: the Facebook and the personal Instagram report carry the badge.
    assert page.count("tidak dapat diverifikasi otomatis</span>") == 2


def test_a_post_page_shows_its_figures_per_platform_and_unit(
    client: TestClient, session: Session
) -> None:
    scene = _scene(session)
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))
    first = scene.posts[0]

    response = client.get(f"/dashboard/campaigns/{scene.campaign.id}/posts/{first.id}")

    assert response.status_code == 200
    page = response.text
    assert "Pekan Literasi Digital" in page
    assert 'data-platform="x"' in page
    assert 'data-platform="facebook"' in page
    assert 'data-platform="instagram"' not in page  # the other post's
    assert LONG_UNIT in page
    assert "Biro Humas" not in page
    assert f'href="/dashboard/campaigns/{scene.campaign.id}/units/{scene.units[0].id}"' in page
    # Facebook: reported, not verifiable, no rate; X: 100 %.
    assert _cell(page, "unverifiable")[:2] == ["0", "1"]  # the rows: X, Facebook
    assert _cell(page, "verification_rate")[:2] == ["100,0%", "—"]


def test_a_unit_page_shows_its_posts_platforms_and_people(
    client: TestClient, session: Session
) -> None:
    scene = _scene(session)
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))
    unit = scene.units[0]

    response = client.get(f"/dashboard/campaigns/{scene.campaign.id}/units/{unit.id}")

    assert response.status_code == 200
    page = response.text
    assert LONG_UNIT in page
    rows = re.findall(r'<tr data-post="(\d+)" data-platform="(\w+)">', page)
    assert rows == [
        (str(scene.posts[0].id), "x"),
        (str(scene.posts[0].id), "facebook"),
        (str(scene.posts[1].id), "instagram"),
    ]
    assert scene.people[0].name in page
    assert scene.people[1].name in page
    assert scene.people[2].name not in page  # another unit's
    assert f'href="/dashboard/campaigns/{scene.campaign.id}/posts/{scene.posts[1].id}"' in page


def test_a_unit_without_assignments_in_the_campaign_shows_zero_figures(
    client: TestClient, session: Session
) -> None:
    scene = _scene(session)
    quiet = make_unit(session, scene.agency, "Inspektorat")
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    response = client.get(f"/dashboard/campaigns/{scene.campaign.id}/units/{quiet.id}")

    assert response.status_code == 200
    assert "Tidak ada pegawai unit kerja ini yang mendapat penugasan" in response.text


def test_drill_downs_are_scoped_to_the_readers_agency_and_campaign(
    client: TestClient, session: Session
) -> None:
    scene = _scene(session)
    other = _scene(session)  # another agency, with its own campaign, posts and units
    base = f"/dashboard/campaigns/{scene.campaign.id}"
    stranger = make_user(session, other.agency, role=Role.SUPERVISOR)
    login_staff(client, stranger)

    theirs = [
        client.get(f"{base}/posts/{scene.posts[0].id}").status_code,
        client.get(f"{base}/units/{scene.units[0].id}").status_code,
    ]
    client.cookies.clear()
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))
    mixed = [
        client.get(f"{base}/posts/{other.posts[0].id}").status_code,  # another campaign's post
        client.get(f"{base}/units/{other.units[0].id}").status_code,  # another agency's unit
        client.get(f"{base}/posts/999999").status_code,
        client.get(f"{base}/units/999999").status_code,
        client.get(
            f"/dashboard/campaigns/{other.campaign.id}/units/{scene.units[0].id}"
        ).status_code,
    ]
    ours = client.get(f"{base}/units/{scene.units[1].id}").status_code

    assert theirs == [404, 404]
    assert mixed == [404, 404, 404, 404, 404]
    assert ours == 200


def test_a_big_units_people_are_capped_and_the_page_says_so(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = _scene(session)
    monkeypatch.setattr(dashboard, "PEOPLE_SHOWN", 1)
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    page = client.get(f"/dashboard/campaigns/{scene.campaign.id}/units/{scene.units[0].id}").text

    assert "Menampilkan 1 pertama dari 2 pegawai" in page
    shown = [p.name for p in scene.people[:2] if p.name in page]
    assert len(shown) == 1
