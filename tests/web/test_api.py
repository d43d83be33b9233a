"""The JSON API: session auth, agency isolation, paging, renditions, reach."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from assignments import reach_snapshot
from assignments.models import AssignmentStatus
from assignments.reach import campaign_reach
from assignments.reach_snapshot import store_snapshot
from gaung.db import utcnow
from roster.models import Role
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


def test_api_needs_a_signed_in_staff_member(client: TestClient, session: Session) -> None:
    campaign = make_campaign(session, make_agency(session))
    for path in ("/api/campaigns", f"/api/campaigns/{campaign.id}/reach"):
        response = client.get(path)
        assert response.status_code == 401
        assert "detail" in response.json()


def test_campaign_list_holds_only_the_callers_agency(client: TestClient, session: Session) -> None:
    agency_a, agency_b = make_agency(session), make_agency(session)
    unit = make_unit(session, agency_a)
    mine = make_campaign(session, agency_a, units=[unit])
    make_campaign(session, agency_b)
    login_staff(client, make_user(session, agency_a, role=Role.SUPERVISOR))
    body = client.get("/api/campaigns").json()
    assert [c["id"] for c in body] == [mine.id]
    assert body[0]["unit_ids"] == [unit.id]
    assert client.get(f"/api/campaigns/{mine.id}").json()["title"] == mine.title


def test_another_agencys_rows_answer_404(client: TestClient, session: Session) -> None:
    agency_b = make_agency(session)
    author_b = make_user(session, agency_b)
    campaign_b = make_campaign(session, agency_b, author_b)
    post_b = make_post(session, campaign_b, author_b)
    login_staff(client, make_user(session, make_agency(session)))
    for path in (
        f"/api/campaigns/{campaign_b.id}",
        f"/api/campaigns/{campaign_b.id}/posts",
        f"/api/campaigns/{campaign_b.id}/assignments",
        f"/api/campaigns/{campaign_b.id}/reach",
        f"/api/posts/{post_b.id}",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json"
    assert client.post(f"/api/posts/{post_b.id}/preview").status_code == 404


def test_posts_and_renditions(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, text="Vaksinasi gratis " * 20)
    login_staff(client, editor)
    posts = client.get(f"/api/campaigns/{campaign.id}/posts").json()
    assert [p["id"] for p in posts] == [post.id]
    assert posts[0]["hashtags"] == ["UMKMGoDigital"]
    detail = client.get(f"/api/posts/{post.id}").json()
    assert detail["platforms"] == ["x", "facebook", "instagram"]
    renditions = {r["platform"]: r for r in client.post(f"/api/posts/{post.id}/preview").json()}
    assert renditions["x"]["length"] > renditions["x"]["limit"] == 280
    assert str(renditions["x"]["length"]) in renditions["x"]["error"]
    assert renditions["instagram"]["error"]  # no image yet


def test_assignments_are_paged(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor)
    unit = make_unit(session, agency)
    made = [make_assignment(session, post, make_asn(session, unit)) for _ in range(3)]
    login_staff(client, editor)
    page = client.get(f"/api/campaigns/{campaign.id}/assignments?limit=2&offset=1").json()
    assert page["total"] == 3
    assert [a["id"] for a in page["items"]] == [a.id for a in made[1:]]
    assert "code" not in page["items"][0]  # tracking codes stay private


def test_paging_limits_are_validated(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    for query in ("limit=501", "limit=0", "offset=-1", "limit=abc"):
        response = client.get(f"/api/campaigns/{campaign.id}/assignments?{query}")
        assert response.status_code == 422, query
    assert client.get("/api/campaigns/not-a-number").status_code == 422


def test_reach_counts_reported_reposts(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor)
    unit = make_unit(session, agency)
    assignment = make_assignment(session, post, make_asn(session, unit, followers=1500))
    make_assignment(session, post, make_asn(session, unit))
    assignment.status = AssignmentStatus.REPORTED
    assignment.repost_url = "https://x.com/asn/status/99"
    assignment.repost_key = "99"
    assignment.reported_at = utcnow()
    assignment.followers_at_report = 1500
    session.add(assignment)
    session.commit()
    login_staff(client, make_user(session, agency, role=Role.SUPERVISOR))
    reach = client.get(f"/api/campaigns/{campaign.id}/reach").json()
    assert reach["total"]["assignments"] == 2
    assert reach["total"]["reported"] == 1
    assert reach["total"]["potential_reach"] == 1500
    assert reach["total"]["completion_rate"] == 0.5
    assert reach["by_platform"]["x"]["reported"] == 1
    assert [r["repost_url"] for r in reach["reposters"]] == ["https://x.com/asn/status/99"]
    # The dashboard's other figures too; nothing measured is null, never 0.
    assert reach["total"]["verified"] == 0
    assert reach["total"]["verification_rate"] == 0.0
    # The rate's denominator: X reports only; nothing reported where no check can reach.
    assert (reach["total"]["checkable"], reach["total"]["unverifiable"]) == (1, 0)
    assert reach["total"]["impressions"] is None
    assert reach["as_of"] is None  # computed for this request


def test_a_big_campaign_s_reach_has_live_counts_and_a_dated_snapshot(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor)
    make_assignment(session, post, make_asn(session, make_unit(session, agency)))
    assert campaign.id is not None
    store_snapshot(session, campaign_reach(session, campaign.id), 1.5)
    session.commit()
    make_assignment(session, post, make_asn(session, make_unit(session, agency)))  # since then
    monkeypatch.setattr(reach_snapshot, "LIVE_LIMIT", 1)
    login_staff(client, make_user(session, agency, role=Role.SUPERVISOR))

    reach = client.get(f"/api/campaigns/{campaign.id}/reach").json()

    assert reach["total"]["assignments"] == 2  # live (the roll-ups), not the snapshot's 1
    assert reach["as_of"] is not None  # the non-additive figures are the snapshot's


def test_ids_and_offsets_beyond_the_database_range_are_bad_input_not_a_crash(
    client: TestClient, session: Session
) -> None:
    """Found by the schemathesis fuzz test: 2**63 overflowed SQLite and PostgreSQL (500)."""
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency, role=Role.SUPERVISOR))
    for path, field in (
        ("/api/campaigns/9223372036854775808", "campaign_id"),
        ("/api/campaigns/2147483648/reach", "campaign_id"),
        ("/api/posts/-1", "post_id"),
        (f"/api/campaigns/{campaign.id}/assignments?offset=9223372036854775808", "offset"),
    ):
        response = client.get(path)
        assert response.status_code == 422, path
        detail = response.json()["detail"][0]
        assert detail["loc"][-1] == field
        assert detail["msg"].startswith("Input should be")
    assert client.get("/api/campaigns/2147483647").status_code == 404
