"""Console pages of cross-agency campaigns, on both databases: the coordinator offers a
campaign from its console page, a member's approver reads and accepts it (some units, an own
deadline typed in the agency's zone) or declines it (a note is required), the menu counts
open offers, and nobody reads another agency's offer or decides without the role."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from content import offers
from content.checks import aware
from content.models import Campaign, CampaignOffer, CampaignUnit, OfferStatus, Post, PostStatus
from gaung import i18n
from gaung.db import utcnow
from roster import networks
from roster.models import Agency, Role, Unit
from tests.factories import make_agency, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import csrf_from, login_staff


class Net:
    """Kominfo coordinates Bakohumas with two members; its campaign has an approved post.
    The first member's agency is in WITA (Asia/Makassar) and has two units."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.coordinator = make_agency(session, name="Kementerian Kominfo")
        self.editor = make_user(session, self.coordinator, Role.EDITOR)
        self.approver = make_user(session, self.coordinator, Role.APPROVER)
        self.supervisor = make_user(session, self.coordinator, Role.SUPERVISOR)
        self.member = make_agency(session, name="Kementerian Kelautan")
        self.member.timezone = "Asia/Makassar"
        session.add(self.member)
        session.commit()
        self.north = make_unit(session, self.member, "Biro Utara")
        self.south = make_unit(session, self.member, "Biro Selatan")
        self.member_approver = make_user(session, self.member, Role.APPROVER)
        self.member_supervisor = make_user(session, self.member, Role.SUPERVISOR)
        self.member_editor = make_user(session, self.member, Role.EDITOR)
        self.other = make_agency(session, name="Kementerian Pertanian")
        self.other_approver = make_user(session, self.other, Role.APPROVER)
        self.network = networks.create(session, None, "Bakohumas", self.coordinator)
        networks.add_members(session, None, self.network, [self.member, self.other])
        session.commit()
        self.campaign = make_campaign(session, self.coordinator, self.editor)
        self.post = make_post(
            session,
            self.campaign,
            self.editor,
            status=PostStatus.APPROVED,
            text="Hari Pahlawan: mari kenang jasa para pahlawan bangsa.",
        )
        self.post.platforms = "x,facebook"  # Instagram would need an image
        session.add(self.post)
        session.commit()

    def offer(self) -> None:
        offers.offer(self.session, self.approver, self.campaign)

    def offer_to(self, agency: Agency) -> CampaignOffer:
        return self.session.exec(
            select(CampaignOffer).where(
                CampaignOffer.campaign_id == self.campaign.id,
                CampaignOffer.agency_id == agency.id,
            )
        ).one()


@pytest.fixture
def net(session: Session) -> Net:
    return Net(session)


def _post(
    client: TestClient, path: str, page: str, data: Mapping[str, str | list[str]]
) -> httpx.Response:
    token = csrf_from(client, page)
    response: httpx.Response = client.post(
        path, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return response


def test_the_coordinator_offers_from_the_campaign_page(
    client: TestClient, session: Session, net: Net
) -> None:
    login_staff(client, net.approver)
    page = f"/console/campaigns/{net.campaign.id}"
    text = client.get(page).text
    assert "Bakohumas" in text
    assert "Tawarkan ke jaringan" in text
    response = client.post(
        f"{page}/offer", data={"csrf_token": csrf_from(client, page)}, follow_redirects=False
    )
    assert response.status_code == 303
    text = client.get(page).text
    assert "Ditawarkan ke jaringan: 2 instansi menerima tawaran." in text
    assert "Kementerian Kelautan" in text
    assert "Kementerian Pertanian" in text
    assert f"/dashboard/campaigns/{net.campaign.id}/network" in text
    session.expire_all()
    assert len(offers.offers_of(session, net.campaign.id or 0)) == 2


def test_an_editor_of_the_coordinator_gets_no_offer_button(client: TestClient, net: Net) -> None:
    login_staff(client, net.editor)
    page = f"/console/campaigns/{net.campaign.id}"
    text = client.get(page).text
    assert "Bakohumas" in text
    assert "Tawarkan ke jaringan" not in text
    response = client.post(
        f"{page}/offer", data={"csrf_token": csrf_from(client, page)}, follow_redirects=False
    )
    assert response.status_code == 403


def test_a_member_reads_its_offers_in_its_zone_and_the_menu_counts_them(
    client: TestClient, net: Net
) -> None:
    net.offer()
    login_staff(client, net.member_supervisor)
    text = client.get("/console/offers").text
    assert "Kementerian Kominfo" in text
    assert net.campaign.title in text
    assert '<a href="/console/offers">Tawaran kampanye <span class="badge warn">1</span>' in text
    # The deadline as the member reads it: in Indonesian, in WITA, its agency's zone.
    with i18n.use_locale("id"), i18n.use_zone("Asia/Makassar"):
        assert i18n.format_datetime(net.campaign.deadline) in text
    offer = net.offer_to(net.member)
    detail = client.get(f"/console/offers/{offer.id}").text
    assert "Hari Pahlawan: mari kenang jasa para pahlawan bangsa." in detail
    assert "Terima tawaran" not in detail  # a supervisor reads, never decides


def test_staff_of_an_agency_without_offers_see_no_menu_entry(client: TestClient, net: Net) -> None:
    login_staff(client, net.approver)
    assert 'href="/console/offers"' not in client.get("/console").text


def test_a_member_accepts_for_some_units_with_its_own_deadline(
    client: TestClient, session: Session, net: Net
) -> None:
    net.offer()
    offer = net.offer_to(net.member)
    login_staff(client, net.member_approver)
    page = f"/console/offers/{offer.id}"
    wall = (utcnow() + timedelta(days=1)).astimezone(i18n.zone("Asia/Makassar"))
    typed = wall.strftime("%Y-%m-%dT%H:%M")
    data: dict[str, str | list[str]] = {"unit_ids": [str(net.north.id)], "deadline": typed}
    response = _post(client, f"{page}/accept", page, data)
    assert response.status_code == 303, re.findall(r"(?:error|alert)[^>]*>([^<]+)<", response.text)
    session.expire_all()
    offer = net.offer_to(net.member)
    assert offer.status == OfferStatus.ACCEPTED
    assert offer.copy_id is not None
    assert response.headers["location"] == f"/console/campaigns/{offer.copy_id}"
    copy = session.get_one(Campaign, offer.copy_id)
    assert copy.agency_id == net.member.id
    assert copy.source_campaign_id == net.campaign.id
    expected = datetime.strptime(typed, "%Y-%m-%dT%H:%M").replace(tzinfo=i18n.zone("Asia/Makassar"))
    assert aware(copy.deadline) == expected.astimezone(UTC)
    units = session.exec(
        select(CampaignUnit.unit_id).where(CampaignUnit.campaign_id == copy.id)
    ).all()
    assert list(units) == [net.north.id]
    twins = session.exec(select(Post).where(Post.campaign_id == copy.id)).all()
    assert [t.source_post_id for t in twins] == [net.post.id]
    text = client.get(response.headers["location"]).text
    assert "Tawaran diterima" in text
    assert "Kampanye ini diterima dari tawaran Kementerian Kominfo." in text
    assert f"/console/campaigns/{net.campaign.id}" not in text  # the coordinator's stays private
    # The menu still lists the offers, none open.
    assert '<a href="/console/offers">Tawaran kampanye</a>' in text


def test_a_deadline_after_the_coordinators_is_shown_next_to_the_field(
    client: TestClient, session: Session, net: Net
) -> None:
    net.offer()
    offer = net.offer_to(net.member)
    login_staff(client, net.member_approver)
    page = f"/console/offers/{offer.id}"
    late = (aware(net.campaign.deadline) + timedelta(days=1)).astimezone(i18n.zone("Asia/Makassar"))
    response = _post(client, f"{page}/accept", page, {"deadline": late.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 400
    assert re.search(
        r'<p class="field-error" id="deadline-error" role="alert">[^<]+</p>',
        response.text,
    )
    session.expire_all()
    assert net.offer_to(net.member).status == OfferStatus.OFFERED


def test_declining_without_a_note_shows_the_field_error(
    client: TestClient, session: Session, net: Net
) -> None:
    net.offer()
    offer = net.offer_to(net.member)
    login_staff(client, net.member_approver)
    page = f"/console/offers/{offer.id}"
    response = _post(client, f"{page}/decline", page, {"note": "  "})
    assert response.status_code == 400
    text = response.text
    assert 'id="note-error"' in text
    assert 'aria-invalid="true"' in text
    session.expire_all()
    assert net.offer_to(net.member).status == OfferStatus.OFFERED

    response = _post(client, f"{page}/decline", page, {"note": "Anggaran habis."})
    assert response.status_code == 303
    session.expire_all()
    declined = net.offer_to(net.member)
    assert declined.status == OfferStatus.DECLINED
    assert declined.note == "Anggaran habis."
    # The coordinator reads the note on its campaign page.
    client.cookies.clear()
    login_staff(client, net.approver)
    assert "Anggaran habis." in client.get(f"/console/campaigns/{net.campaign.id}").text


def test_a_member_cannot_see_another_members_offer(client: TestClient, net: Net) -> None:
    net.offer()
    theirs = net.offer_to(net.other)
    login_staff(client, net.member_approver)
    assert client.get(f"/console/offers/{theirs.id}").status_code == 404
    mine = f"/console/offers/{net.offer_to(net.member).id}"
    response = _post(client, f"/console/offers/{theirs.id}/accept", mine, {})
    assert response.status_code == 404
    assert "Kementerian Pertanian" not in client.get("/console/offers").text


def test_a_members_supervisor_cannot_decide(client: TestClient, session: Session, net: Net) -> None:
    net.offer()
    offer = net.offer_to(net.member)
    login_staff(client, net.member_supervisor)
    page = f"/console/offers/{offer.id}"
    assert _post(client, f"{page}/accept", page, {}).status_code == 403
    response = _post(client, f"{page}/decline", page, {"note": "Tidak."})
    assert response.status_code == 403
    session.expire_all()
    assert net.offer_to(net.member).status == OfferStatus.OFFERED


def test_a_unit_of_another_agency_is_refused(
    client: TestClient, session: Session, net: Net
) -> None:
    net.offer()
    offer = net.offer_to(net.member)
    foreign: Unit = make_unit(session, net.other)
    login_staff(client, net.member_approver)
    page = f"/console/offers/{offer.id}"
    data = {"unit_ids": [str(foreign.id), "99999999999"]}
    response = _post(client, f"{page}/accept", page, data)
    assert response.status_code == 400
    assert 'id="unit_ids-error"' in response.text
    count = session.exec(select(col(Campaign.id)).where(Campaign.agency_id == net.member.id)).all()
    assert count == []
