"""The JSON API of cross-agency campaigns, on both databases, with API tokens: offering,
the incoming offers, accepting (units, an ISO 8601 deadline), declining (a note is
required), the network's reach, and the same refusals as the console."""

from __future__ import annotations

from datetime import UTC, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from content.checks import aware
from content.models import Campaign, CampaignUnit, OfferStatus
from gaung.db import utcnow
from roster import api_tokens
from roster.models import User
from tests.web.test_network_dashboard import SECRET_NAMES, figures
from tests.web.test_offers_console import Net


def bearer(session: Session, user: User) -> dict[str, str]:
    issued = api_tokens.create_token(session, user, name="test")
    return {"Authorization": f"Bearer {issued.secret}"}


def test_offer_then_accept_with_units_and_a_deadline(client: TestClient, session: Session) -> None:
    net = Net(session)
    coordinator = bearer(session, net.approver)
    response = client.post(f"/api/campaigns/{net.campaign.id}/offer", headers=coordinator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["offered"] == 2
    assert {o["agency"] for o in body["offers"]} == {
        "Kementerian Kelautan",
        "Kementerian Pertanian",
    }
    again = client.post(f"/api/campaigns/{net.campaign.id}/offer", headers=coordinator)
    assert again.json()["offered"] == 0

    member = bearer(session, net.member_approver)
    incoming = client.get("/api/offers", headers=member).json()
    assert [o["campaign_id"] for o in incoming] == [net.campaign.id]
    assert incoming[0]["coordinator"] == "Kementerian Kominfo"
    assert incoming[0]["status"] == "offered"
    assert incoming[0]["posts"] == 1

    deadline = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    response = client.post(
        f"/api/offers/{incoming[0]['id']}/accept",
        headers={**member, "Idempotency-Key": "accept-1"},
        json={"unit_ids": [net.south.id], "deadline": deadline.isoformat()},
    )
    assert response.status_code == 200, response.text
    accepted = response.json()
    assert accepted["status"] == "accepted"
    assert accepted["units"] == ["Biro Selatan"]
    copy = session.get_one(Campaign, accepted["copy_id"])
    assert copy.agency_id == net.member.id
    assert aware(copy.deadline) == deadline.astimezone(UTC)
    units = session.exec(select(CampaignUnit.unit_id).where(CampaignUnit.campaign_id == copy.id))
    assert list(units) == [net.south.id]
    replay = client.post(
        f"/api/offers/{incoming[0]['id']}/accept",
        headers={**member, "Idempotency-Key": "accept-1"},
        json={"unit_ids": [net.south.id], "deadline": deadline.isoformat()},
    )
    assert replay.headers.get("Idempotent-Replayed") == "true"
    # Answered once: a second answer is a state conflict.
    second = client.post(f"/api/offers/{incoming[0]['id']}/accept", headers=member, json={})
    assert second.status_code == 409


def test_decline_needs_a_note(client: TestClient, session: Session) -> None:
    net = Net(session)
    net.offer()
    member = bearer(session, net.member_approver)
    offer = net.offer_to(net.member)
    path = f"/api/offers/{offer.id}/decline"
    response = client.post(path, headers=member, json={"note": "  "})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "note"]
    response = client.post(path, headers=member, json={"note": "Anggaran habis."})
    assert response.status_code == 200
    assert response.json()["note"] == "Anggaran habis."
    session.expire_all()
    assert net.offer_to(net.member).status == OfferStatus.DECLINED


def test_a_late_deadline_is_refused_naming_the_field(client: TestClient, session: Session) -> None:
    net = Net(session)
    net.offer()
    member = bearer(session, net.member_approver)
    late = aware(net.campaign.deadline) + timedelta(hours=1)
    response = client.post(
        f"/api/offers/{net.offer_to(net.member).id}/accept",
        headers=member,
        json={"deadline": late.isoformat()},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "deadline"]


def test_another_members_offer_is_404_and_a_supervisor_may_not_decide(
    client: TestClient, session: Session
) -> None:
    net = Net(session)
    net.offer()
    member = bearer(session, net.member_approver)
    theirs = net.offer_to(net.other)
    assert (
        client.post(f"/api/offers/{theirs.id}/accept", headers=member, json={}).status_code == 404
    )
    assert all(
        o["agency"] != "Kementerian Pertanian"
        for o in client.get("/api/offers", headers=member).json()
    )
    supervisor = bearer(session, net.member_supervisor)
    mine = net.offer_to(net.member)
    assert (
        client.post(f"/api/offers/{mine.id}/accept", headers=supervisor, json={}).status_code == 403
    )
    response = client.post(f"/api/offers/{mine.id}/decline", headers=supervisor, json={"note": "x"})
    assert response.status_code == 403
    # A member cannot offer the coordinator's campaign (not its own: 404).
    assert client.post(f"/api/campaigns/{net.campaign.id}/offer", headers=member).status_code == 404


def test_the_network_reach_per_agency_and_national(client: TestClient, session: Session) -> None:
    net = Net(session)
    figures(session, net)
    response = client.get(
        f"/api/campaigns/{net.campaign.id}/network", headers=bearer(session, net.supervisor)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    rows = {row["agency"]: row for row in body["agencies"]}
    assert next(row["status"] for row in body["agencies"]) == "coordinator"
    assert rows["Kementerian Kominfo"]["figures"]["assignments"] == 2
    assert rows["Kementerian Kelautan"]["status"] == "accepted"
    assert rows["Kementerian Kelautan"]["figures"]["reported"] == 2
    assert rows["Kementerian Pertanian"]["note"] == "Anggaran habis."
    assert body["national"]["assignments"] == 5
    assert body["national"]["potential_reach"] == 1500
    assert body["accepted"] == 1
    assert not any(name in response.text for name in SECRET_NAMES)
    member = bearer(session, net.member_supervisor)
    response = client.get(f"/api/campaigns/{net.campaign.id}/network", headers=member)
    assert response.status_code == 404


def test_an_offer_without_a_network_is_a_conflict(client: TestClient, session: Session) -> None:
    net = Net(session)
    campaign = session.exec(select(Campaign).where(Campaign.agency_id == net.coordinator.id)).one()
    member_campaign = Campaign(
        agency_id=net.member.id or 0,
        title="Milik anggota",
        kind=campaign.kind,
        starts_at=utcnow(),
        deadline=utcnow() + timedelta(days=1),
    )
    session.add(member_campaign)
    session.commit()
    response = client.post(
        f"/api/campaigns/{member_campaign.id}/offer", headers=bearer(session, net.member_approver)
    )
    assert response.status_code == 409
    assert "tidak mengoordinasikan jaringan" in response.json()["detail"]
