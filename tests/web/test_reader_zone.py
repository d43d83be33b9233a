"""Times on pages are in the reader's zone, named, to the minute (issue 16).

Staff read their agency's zone; an ASN their unit's, else their agency's; else the
instance's (WIB). Runs on SQLite and PostgreSQL (the ``client`` fixture).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from content.models import Campaign, PostStatus
from roster.models import Agency
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

DEADLINE = datetime(2036, 12, 7, 0, 0, 41, tzinfo=UTC)  # 07.00 WIB, 08.00 WITA, 09.00 WIT
SECONDS = re.compile(r"\b\d{1,2}[.:]\d{2}[.:]\d{2}\b")


def _zoned_agency(session: Session, zone: str | None) -> Agency:
    agency = make_agency(session)
    agency.timezone = zone
    session.add(agency)
    session.commit()
    return agency


def _assigned_asn_page(
    client: TestClient, session: Session, agency: Agency, unit_zone: str | None = None
) -> tuple[str, str]:
    """(inbox list, assignment page) of an ASN of the agency with a deadline of DEADLINE."""
    unit = make_unit(session, agency)
    if unit_zone:
        unit.timezone = unit_zone
        session.add(unit)
        session.commit()
    author = make_user(session, agency)
    campaign = make_campaign(session, agency)
    campaign.deadline = DEADLINE
    session.add(campaign)
    post = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
    asn = make_asn(session, unit)
    assignment = make_assignment(session, post, asn, "x")
    assignment.deadline = DEADLINE
    session.add(assignment)
    session.commit()
    login_asn(client, asn)
    return client.get("/inbox").text, client.get(f"/inbox/{assignment.id}").text


def test_an_asn_of_a_wita_agency_sees_the_deadline_in_wita(
    client: TestClient, session: Session
) -> None:
    listed, detail = _assigned_asn_page(client, session, _zoned_agency(session, "Asia/Makassar"))
    for text in (listed, detail):
        assert "7 Des 2036 08.00 WITA" in text
        assert not SECONDS.findall(text)


def test_a_unit_zone_overrides_the_agencys(client: TestClient, session: Session) -> None:
    agency = _zoned_agency(session, "Asia/Jakarta")
    listed, _ = _assigned_asn_page(client, session, agency, unit_zone="Asia/Jayapura")
    assert "7 Des 2036 09.00 WIT" in listed


def test_without_a_zone_the_instance_zone_wib(client: TestClient, session: Session) -> None:
    listed, detail = _assigned_asn_page(client, session, _zoned_agency(session, None))
    assert "7 Des 2036 07.00 WIB" in listed
    assert "7 Des 2036 07.00 WIB" in detail


def test_staff_of_a_wit_agency_read_and_type_wit(client: TestClient, session: Session) -> None:
    agency = _zoned_agency(session, "Asia/Jayapura")
    unit = make_unit(session, agency)
    login_staff(client, make_user(session, agency))
    form = client.get("/console/campaigns/new").text
    assert "Tenggat (WIT)" in form
    response = client.post(
        "/console/campaigns",
        data={
            "csrf_token": csrf_from(client, "/console/campaigns/new"),
            "title": "Literasi Digital",
            "kind": "program",
            "starts_at": "2036-12-06T09:00",
            "deadline": "2036-12-07T09:00",
            "unit_ids": [str(unit.id)],
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    campaign = session.exec(select(Campaign).where(Campaign.agency_id == agency.id)).one()
    assert campaign.deadline.replace(tzinfo=UTC) == datetime(2036, 12, 7, 0, 0, tzinfo=UTC)
    detail = client.get(f"/console/campaigns/{campaign.id}").text
    assert "7 Des 2036 09.00 WIT" in detail
    edit = client.get(f"/console/campaigns/{campaign.id}/edit").text
    assert 'value="2036-12-07T09:00"' in edit


def test_main_pages_show_no_seconds(client: TestClient, session: Session) -> None:
    agency = _zoned_agency(session, "Asia/Makassar")
    author = make_user(session, agency)
    campaign = make_campaign(session, agency)
    post = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
    make_assignment(session, post, make_asn(session, make_unit(session, agency)), "x")
    author.role = "admin"  # every page below is theirs to open
    session.add(author)
    session.commit()
    login_staff(client, author)
    pages = [
        "/console",
        f"/console/campaigns/{campaign.id}",
        f"/console/posts/{post.id}",
        f"/console/campaigns/{campaign.id}/assignments",
        f"/console/campaigns/{campaign.id}/messages",
        f"/dashboard/campaigns/{campaign.id}",
        "/console/audit",
    ]
    for path in pages:
        page = client.get(path)
        assert page.status_code == 200, path
        assert not SECONDS.findall(page.text), (path, SECONDS.findall(page.text))
        if "/messages" not in path and "/audit" not in path:  # those may list nothing yet
            assert "WITA" in page.text, path
