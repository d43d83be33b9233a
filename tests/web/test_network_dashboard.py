"""The network reach page of a coordinator's campaign, on both databases: per agency and
national totals from each agency's own roll-ups, no person's name, and only the
coordinator's staff may open it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from assignments.models import AssignmentStatus
from content import offers
from content.models import Post
from gaung.db import utcnow
from roster.models import Asn, Role, Unit
from tests.factories import make_asn, make_assignment, make_campaign, make_unit, make_user
from tests.web.conftest import login_staff
from tests.web.test_offers_console import Net

SECRET_NAMES = ("Ani Rahasia Koordinator", "Budi Rahasia Anggota")


def _person(session: Session, unit: Unit, name: str) -> Asn:
    asn = make_asn(session, unit, platforms=("x",))
    asn.name = name
    session.add(asn)
    session.commit()
    return asn


def _reported(session: Session, post: Post, asn: Asn, followers: int) -> None:
    assignment = make_assignment(session, post, asn)
    assignment.status = AssignmentStatus.REPORTED
    assignment.repost_url = f"https://x.com/asn/status/{assignment.id}"
    assignment.reported_at = utcnow()
    assignment.followers_at_report = followers
    session.add(assignment)
    session.commit()


def figures(session: Session, net: Net) -> None:
    """The coordinator: two assignments, one reported (1,000 followers); the member accepts
    and has three, two reported (250 each); the other member declines."""
    own = make_unit(session, net.coordinator, "Biro Humas Kominfo")
    ani = _person(session, own, SECRET_NAMES[0])
    _reported(session, net.post, ani, 1000)
    make_assignment(session, net.post, _person(session, own, "Citra Rahasia"))
    net.offer()
    copy = offers.accept(session, net.member_approver, net.offer_to(net.member).id or 0)
    twin = session.exec(select(Post).where(Post.campaign_id == copy.id)).one()
    _reported(session, twin, _person(session, net.north, SECRET_NAMES[1]), 250)
    _reported(session, twin, _person(session, net.north, "Dedi Rahasia"), 250)
    make_assignment(session, twin, _person(session, net.south, "Eka Rahasia"))
    offers.decline(session, net.other_approver, net.offer_to(net.other).id or 0, "Anggaran habis.")


def _row(text: str, agency: str) -> str:
    found = re.search(rf'<tr[^>]* data-agency="{agency}">(.*?)</tr>', text, re.S)
    assert found, agency
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


def test_the_coordinator_sees_each_agency_and_the_national_total(
    client: TestClient, session: Session
) -> None:
    net = Net(session)
    figures(session, net)
    login_staff(client, net.supervisor)
    page = f"/dashboard/campaigns/{net.campaign.id}"
    assert f'href="{page}/network"' in client.get(page).text
    text = client.get(f"{page}/network").text
    assert "Jangkauan di seluruh jaringan" in text
    coordinator = _row(text, net.coordinator.slug)
    assert "Koordinator 2 1 0" in coordinator
    assert "1.000" in coordinator
    member = _row(text, net.member.slug)
    assert "Diterima" in member
    assert " 3 2 0 " in member
    assert "500" in member
    other = _row(text, net.other.slug)
    assert "Ditolak" in other
    assert "Anggaran habis." in other
    national = _row(text, "")
    assert "Total nasional" in national
    assert "3 instansi 5 3 0" in national
    assert "1.500" in national
    for name in (*SECRET_NAMES, "Citra Rahasia", "Dedi Rahasia", "Eka Rahasia"):
        assert name not in text


def test_a_member_cannot_open_the_coordinators_network_page(
    client: TestClient, session: Session
) -> None:
    net = Net(session)
    figures(session, net)
    login_staff(client, net.member_supervisor)
    assert client.get(f"/dashboard/campaigns/{net.campaign.id}/network").status_code == 404
    copy = net.offer_to(net.member).copy_id
    # Its own copy has no network page, and its dashboard does not link one.
    assert client.get(f"/dashboard/campaigns/{copy}/network").status_code == 404
    assert "/network" not in client.get(f"/dashboard/campaigns/{copy}").text


def test_a_campaign_of_an_agency_without_a_network_has_no_page(
    client: TestClient, session: Session
) -> None:
    net = Net(session)
    supervisor = make_user(session, net.other, Role.SUPERVISOR)
    own = make_campaign(session, net.other, supervisor)
    login_staff(client, supervisor)
    assert client.get(f"/dashboard/campaigns/{own.id}/network").status_code == 404
    assert "/network" not in client.get(f"/dashboard/campaigns/{own.id}").text
