"""The console's channel status panel: connected or not, what falls back, calls spent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from assignments.evidence import VerifyCursor
from assignments.metrics import count_calls
from gaung.db import utcnow
from gaung.settings import get_settings
from roster.models import Role
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import login_staff


def test_without_credentials_every_platform_is_not_connected_and_says_what_falls_back(
    client: TestClient, session: Session
) -> None:
    login_staff(client, make_user(session, make_agency(session), role=Role.EDITOR))

    page = client.get("/console/channels")

    assert page.status_code == 200
    assert page.text.count("Belum terhubung") == 3
    assert "embed publik X" in page.text  # X's keyless fallback
    assert "dilaporkan, belum terverifikasi" in page.text  # Facebook/Instagram fallback
    assert "/console/channels/credentials" not in page.text  # admins only


def test_a_configured_token_shows_as_connected(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().x, "bearer_token", "configured-token")
    login_staff(client, make_user(session, make_agency(session), role=Role.ADMIN))

    page = client.get("/console/channels").text

    assert page.count("Belum terhubung") == 2
    assert '<span class="badge good">Terhubung</span>' in page
    assert "configured-token" not in page
    assert "/console/channels/credentials" in page


def test_calls_spent_and_follower_freshness_are_shown_for_the_agency(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor)
    unit = make_unit(session, agency)
    for _ in range(2):
        make_asn(session, unit, platforms=["x"])
    other = make_campaign(session, make_agency(session))
    session.add(VerifyCursor(post_id=post.id or 0, platform="x", campaign_id=campaign.id or 0,
                             api_calls=12))  # fmt: skip
    count_calls(session, campaign_id=campaign.id or 0, platform="x", purpose="metrics", calls=4)
    count_calls(session, campaign_id=other.id or 0, platform="x", purpose="metrics", calls=99)
    count_calls(session, platform="x", purpose="followers", calls=3)
    count_calls(
        session,
        platform="x",
        purpose="followers",
        calls=50,
        day=(utcnow() - timedelta(days=40)).date(),
    )
    session.commit()
    login_staff(client, editor)

    page = client.get("/console/channels").text

    assert "12 untuk verifikasi" in page
    assert "4 untuk metrik" in page  # the other agency's 99 are not shown
    assert "3 untuk jumlah pengikut" in page  # 40 days ago is outside the window
    assert "2 dari 2 akun dihitung" in page


def test_supervisors_do_not_see_the_panel(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session), role=Role.SUPERVISOR))

    assert client.get("/console/channels").status_code == 403
