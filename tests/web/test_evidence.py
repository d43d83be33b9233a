"""Staff page of a campaign's assignments with their evidence, and the follower refresh button."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, select

from assignments.evidence import Check, Outcome, Reason, record
from assignments.metrics import RepostMetrics
from assignments.models import AssignmentStatus
from content.models import Campaign
from gaung.db import utcnow
from kernel.audit import AuditLog
from kernel.models import WorkItem
from roster.models import Agency, Role, SocialAccount
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from tests.web.conftest import csrf_from, login_asn, login_staff


class Scene:
    """One campaign: a verified repost later deleted, a rejected claim, a pending task."""

    def __init__(self, session: Session) -> None:
        self.agency: Agency = make_agency(session)
        editor = make_user(session, self.agency)
        self.campaign: Campaign = make_campaign(session, self.agency, editor)
        post = make_post(session, self.campaign, editor)
        unit = make_unit(session, self.agency, "Biro Humas")
        self.people = [make_asn(session, unit, platforms=["x"]) for _ in range(3)]
        self.done, self.wrong, self.idle = (
            make_assignment(session, post, asn) for asn in self.people
        )
        self._verified_then_deleted(session)
        self.wrong.status, self.wrong.repost_url = AssignmentStatus.REPORTED, "https://x.com/z/1"
        record(
            session, self.wrong, check=Check.X_LOOKUP, outcome=Outcome.REJECTED,
            reason=Reason.WRONG_AUTHOR, post_id="778", url="https://x.com/z/status/778",
        )  # fmt: skip
        session.commit()
        self.account = session.exec(
            select(SocialAccount).where(SocialAccount.asn_id == self.people[2].id)
        ).one()

    def _verified_then_deleted(self, session: Session) -> None:
        url = "https://x.com/asn/status/777"
        self.done.repost_url, self.done.repost_key = url, "x:777"
        self.done.reported_at = utcnow() - timedelta(hours=2)
        record(
            session, self.done, check=Check.X_SEARCH, outcome=Outcome.VERIFIED,
            post_id="777", url=url, detail="quote",
        )  # fmt: skip
        record(
            session, self.done, check=Check.X_LOOKUP, outcome=Outcome.GONE,
            reason=Reason.DELETED, post_id="777", url=url,
        )  # fmt: skip
        assert self.done.id is not None
        session.add(
            RepostMetrics(
                assignment_id=self.done.id, campaign_id=self.done.campaign_id, platform="x",
                window="1h", platform_post_id="777", impressions=640, likes=9, replies=1,
            )
        )  # fmt: skip


@pytest.fixture
def scene(session: Session) -> Scene:
    return Scene(session)


def _page(client: TestClient, scene: Scene, query: str = "") -> str:
    response: Response = client.get(f"/console/campaigns/{scene.campaign.id}/assignments{query}")
    assert response.status_code == 200, response.text
    return response.text


def test_every_assignment_shows_its_state_reason_and_evidence(
    client: TestClient, session: Session, scene: Scene
) -> None:
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))

    page = _page(client, scene)

    for asn in scene.people:
        assert asn.name in page
    assert "Pencarian repost X" in page  # which check
    assert "Terlihat: terverifikasi" in page  # saw what
    assert "<code>777</code>" in page  # the platform's post id
    assert 'href="https://x.com/asn/status/777"' in page
    assert "Dihapus setelah terverifikasi" in page  # verified, later deleted: flagged
    assert "Tidak lolos verifikasi" in page  # the rejected claim ...
    assert "Diunggah dari akun lain" in page  # ... with its reason
    assert "Menunggu" in page
    assert "640 tayangan, 10 interaksi" in page
    assert "Belum ada bukti" in page  # the idle one
    assert "refresh-followers" not in page  # supervisors read only


def test_the_status_filter_narrows_the_list(
    client: TestClient, session: Session, scene: Scene
) -> None:
    login_staff(client, make_user(session, scene.agency, role=Role.EDITOR))

    page = _page(client, scene, "?status=rejected&platform=x")

    assert scene.people[1].name in page
    assert scene.people[0].name not in page
    assert scene.people[2].name not in page


def test_another_agencys_campaign_is_not_found(
    client: TestClient, session: Session, scene: Scene
) -> None:
    login_staff(client, make_user(session, make_agency(session), role=Role.ADMIN))

    response = client.get(f"/console/campaigns/{scene.campaign.id}/assignments")

    assert response.status_code == 404
    assert scene.people[0].name not in response.text


def test_an_asn_cannot_open_the_staff_page(client: TestClient, scene: Scene) -> None:
    login_asn(client, scene.people[0])

    response = client.get(
        f"/console/campaigns/{scene.campaign.id}/assignments", follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_humas_queues_a_follower_refresh_without_calling_the_platform(
    client: TestClient, session: Session, scene: Scene
) -> None:
    editor = make_user(session, scene.agency, role=Role.EDITOR)
    login_staff(client, editor)
    path = f"/console/campaigns/{scene.campaign.id}/assignments"
    page = _page(client, scene)
    assert f"/console/accounts/{scene.account.id}/refresh-followers" in page

    response = client.post(
        f"/console/accounts/{scene.account.id}/refresh-followers",
        data={"csrf_token": csrf_from(client, path), "next": path},
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == path
    item = session.exec(select(WorkItem).where(WorkItem.kind == "followers_account")).one()
    assert item.payload == f'{{"account_id": {scene.account.id}}}'
    audit = session.exec(select(AuditLog).where(AuditLog.entity == "social_account")).one()
    assert (audit.action, audit.actor_id) == ("account.followers_refresh_requested", editor.id)
    assert "Jumlah pengikut akan diperbarui" in client.get(path).text


def test_refresh_needs_the_form_token_the_role_and_the_agency(
    client: TestClient, session: Session, scene: Scene
) -> None:
    target = f"/console/accounts/{scene.account.id}/refresh-followers"
    login_staff(client, make_user(session, scene.agency, role=Role.SUPERVISOR))
    token = csrf_from(client, f"/console/campaigns/{scene.campaign.id}/assignments")
    assert client.post(target, data={"csrf_token": token}).status_code == 403  # read-only role

    client.cookies.clear()
    login_staff(client, make_user(session, scene.agency, role=Role.EDITOR))
    assert client.post(target, data={"csrf_token": "forged"}).status_code == 403

    client.cookies.clear()
    login_staff(client, make_user(session, make_agency(session), role=Role.ADMIN))
    token = csrf_from(client, "/console")
    assert client.post(target, data={"csrf_token": token}).status_code == 404
    missing = client.post("/console/accounts/999999/refresh-followers", data={"csrf_token": token})
    assert missing.status_code == 404

    assert session.exec(select(WorkItem).where(WorkItem.kind == "followers_account")).all() == []


def test_a_campaign_without_assignments_says_so(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency, role=Role.APPROVER))

    page = client.get(f"/console/campaigns/{campaign.id}/assignments")

    assert page.status_code == 200
    assert "Tidak ada penugasan yang sesuai." in page.text


def test_the_campaign_page_links_to_the_evidence(
    client: TestClient, session: Session, scene: Scene
) -> None:
    login_staff(client, make_user(session, scene.agency, role=Role.EDITOR))

    page = client.get(f"/console/campaigns/{scene.campaign.id}").text

    assert f"/console/campaigns/{scene.campaign.id}/assignments" in page
