"""Recognition pages: the ASN's opt-in and standing in the inbox, the leaderboard for ASN and
staff, the admin's switch; who did not opt in, and other agencies, never show."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from assignments.leaderboard import current_month
from assignments.models import AssignmentStatus
from content.models import PostStatus
from gaung.db import utcnow
from kernel.audit import AuditLog
from roster import recognition
from roster.models import Agency, Asn, Role, Unit
from roster.recognition import LeaderboardOptIn
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

EN = {"Accept-Language": "en"}


def _people(session: Session) -> tuple[Agency, Unit, Asn, Asn, Asn]:
    """An agency with a unit of three ASN: a leader and a runner-up who joined, one who did not."""
    agency = make_agency(session)
    unit = make_unit(session, agency, "Biro Humas")
    author = make_user(session, agency)
    post = make_post(
        session, make_campaign(session, agency, author), author, status=PostStatus.DISPATCHED
    )
    leader, runner_up, shy = (make_asn(session, unit) for _ in range(3))
    leader.name, runner_up.name, shy.name = "Ayu Lestari", "Bagus Pratama", "Candra Tertutup"
    for person in (leader, runner_up, shy):
        session.add(person)
    session.commit()
    for person, platforms in ((leader, ("x", "facebook")), (runner_up, ("x",)), (shy, ("x",))):
        for platform in platforms:
            assignment = make_assignment(session, post, person, platform)
            assignment.status = AssignmentStatus.VERIFIED
            assignment.verified_at = utcnow() - timedelta(minutes=5)
            session.add(assignment)
    session.commit()
    recognition.join(session, leader)
    recognition.join(session, runner_up)
    return agency, unit, leader, runner_up, shy


def _opt(client: TestClient, on: bool, next_page: str = "settings") -> None:
    data = {"csrf_token": csrf_from(client, "/inbox/settings"), "next": next_page}
    if on:
        data["leaderboard"] = "on"
    response = client.post(
        "/inbox/settings/leaderboard", data=data, headers=EN, follow_redirects=False
    )
    assert response.status_code == 303


def test_the_opt_in_is_off_by_default_and_the_settings_page_records_and_revokes_it(
    client: TestClient, session: Session
) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    login_asn(client, asn)
    page = client.get("/inbox/settings", headers=EN).text
    assert re.search(r'<input type="checkbox" name="leaderboard"\s*>', page)  # not ticked

    _opt(client, True)

    assert recognition.joined_at(session, asn) is not None
    page = client.get("/inbox/settings", headers=EN).text
    assert "You are on the leaderboard" in page
    assert "Joined on" in page
    _opt(client, False)
    assert recognition.joined_at(session, asn) is None
    assert "You left the leaderboard" in client.get("/inbox/settings", headers=EN).text


def test_the_inbox_shows_the_own_standing_only_after_opting_in(
    client: TestClient, session: Session
) -> None:
    _agency, _unit, _leader, runner_up, shy = _people(session)

    login_asn(client, runner_up)
    page = client.get("/inbox", headers=EN).text
    assert "Your rank this month: 2 of 2 in Biro Humas" in page
    assert "2 of 2 in the agency" in page

    client.cookies.clear()
    login_asn(client, shy)
    page = client.get("/inbox", headers=EN).text
    assert "Your rank" not in page
    assert "See what is shown and join if you like" in page


def test_the_inbox_standing_reads_in_indonesian(client: TestClient, session: Session) -> None:
    _agency, _unit, leader, _runner_up, _shy = _people(session)
    login_asn(client, leader)

    page = client.get("/inbox", headers={"Accept-Language": "id"}).text

    assert "Peringkat Anda bulan ini: 1 dari 2 di unit Biro Humas" in page


def test_the_asn_lists_hold_only_those_who_joined_and_only_for_those_who_joined(
    client: TestClient, session: Session
) -> None:
    agency, _unit, leader, runner_up, shy = _people(session)
    stranger = make_asn(session, make_unit(session, make_agency(session)))
    stranger.name = "Orang Lain"
    session.add(stranger)
    session.commit()
    recognition.join(session, stranger)

    login_asn(client, shy)
    page = client.get("/inbox/leaderboard", headers=EN).text
    assert "Join the leaderboard?" in page
    assert leader.name not in page
    assert runner_up.name not in page

    _opt(client, True, "board")
    page = client.get("/inbox/leaderboard", headers=EN).text
    assert leader.name in page
    assert runner_up.name in page
    assert shy.name in page
    assert "Your rank: 2 of 3 in Biro Humas" in page  # tied with the runner-up
    assert agency.name in page
    assert stranger.name not in page  # another agency

    _opt(client, False, "board")
    page = client.get("/inbox/leaderboard", headers=EN).text
    assert "Join the leaderboard?" in page
    assert session.get(LeaderboardOptIn, shy.id) is None


def test_a_month_picked_on_the_inbox_leaderboard_is_checked(
    client: TestClient, session: Session
) -> None:
    agency, _unit, leader, _runner_up, _shy = _people(session)
    login_asn(client, leader)
    this_month = current_month(agency)

    earlier = client.get(f"/inbox/leaderboard?month={this_month.previous()}", headers=EN)
    assert earlier.status_code == 200
    assert "Verified: 0 · Clicks: 0" in earlier.text  # the reposts were verified this month
    assert "Verified: 2 · Clicks: 0" in client.get("/inbox/leaderboard", headers=EN).text

    for typed, message in (
        ("2026-13", "Choose a month as year-month"),
        (str(this_month.next()), "or an earlier month"),
    ):
        response = client.get(f"/inbox/leaderboard?month={typed}", headers=EN)
        assert response.status_code == 400
        assert message in response.text
        assert 'id="month-error"' in response.text


def test_staff_see_the_agency_and_unit_lists_of_those_who_joined(
    client: TestClient, session: Session
) -> None:
    agency, unit, leader, runner_up, shy = _people(session)
    other_unit = make_unit(session, agency, "Biro Lain")
    elsewhere = make_asn(session, other_unit)
    recognition.join(session, elsewhere)
    foreign_unit = make_unit(session, make_agency(session))
    login_staff(client, make_user(session, agency, Role.SUPERVISOR))

    page = client.get("/dashboard/leaderboard", headers=EN).text
    assert leader.name in page
    assert runner_up.name in page
    assert elsewhere.name in page
    assert shy.name not in page
    assert page.index(leader.name) < page.index(runner_up.name)

    page = client.get(f"/dashboard/leaderboard?unit={unit.id}", headers=EN).text
    assert leader.name in page
    assert elsewhere.name not in page

    refused = client.get(f"/dashboard/leaderboard?unit={foreign_unit.id}", headers=EN)
    assert refused.status_code == 400
    assert "Choose one of your agency's units" in html.unescape(refused.text)
    assert 'id="unit-error"' in refused.text
    assert client.get("/dashboard/leaderboard?month=2026-1", headers=EN).status_code == 400
    assert "Leaderboard of ASN" in client.get("/dashboard", headers=EN).text


def test_the_admin_switch_turns_everything_off_and_on(client: TestClient, session: Session) -> None:
    agency, _unit, leader, _runner_up, shy = _people(session)
    admin = make_user(session, agency, Role.ADMIN)
    login_staff(client, make_user(session, agency, Role.SUPERVISOR))
    form = {"csrf_token": csrf_from(client, "/dashboard/leaderboard")}
    assert client.post("/console/agency/leaderboard", data=form).status_code == 403

    client.cookies.clear()
    login_staff(client, admin)
    assert 'name="enabled" checked' in client.get("/console/agency", headers=EN).text
    form = {"csrf_token": csrf_from(client, "/console/agency")}
    response = client.post("/console/agency/leaderboard", data=form, headers=EN)
    assert "The leaderboard is off." in response.text
    session.refresh(agency)
    assert agency.leaderboard is False
    off = select(AuditLog).where(AuditLog.action == "agency.leaderboard_off")
    assert session.exec(off).first() is not None
    page = client.get("/dashboard/leaderboard", headers=EN).text
    assert "turned off for this agency" in page
    assert leader.name not in page

    client.cookies.clear()
    login_asn(client, leader)
    inbox = client.get("/inbox", headers=EN).text
    assert "Your rank" not in inbox
    assert "join if you like" not in inbox
    board = client.get("/inbox/leaderboard", headers=EN).text
    assert "turned the leaderboard off" in board
    assert leader.name not in board.split("<main")[1]
    assert 'id="leaderboard"' not in client.get("/inbox/settings", headers=EN).text

    client.cookies.clear()
    login_asn(client, shy)
    _opt(client, True)  # refused, said on the settings page
    assert "turned the leaderboard off" in client.get("/inbox/settings", headers=EN).text
    assert recognition.joined_at(session, shy) is None

    client.cookies.clear()
    login_staff(client, admin)
    form = {"csrf_token": csrf_from(client, "/console/agency"), "enabled": "on"}
    assert (
        "The leaderboard is on."
        in client.post("/console/agency/leaderboard", data=form, headers=EN).text
    )
    assert leader.name in client.get("/dashboard/leaderboard", headers=EN).text


def test_the_personal_data_download_holds_the_leaderboard_consent(
    client: TestClient, session: Session
) -> None:
    _agency, _unit, leader, _runner_up, _shy = _people(session)
    login_asn(client, leader)

    data = client.get("/inbox/privacy.json").json()

    assert data["leaderboard"]["opted_in_at"] is not None


def test_months_step_back_to_the_first_one_shown_and_never_past_the_current_one(
    client: TestClient, session: Session
) -> None:
    agency, _unit, leader, _runner_up, _shy = _people(session)
    login_asn(client, leader)
    this_month = current_month(agency)

    page = client.get("/inbox/leaderboard", headers=EN).text
    assert f"month={this_month.previous()}" in page
    assert f"month={this_month.next()}" not in page
    first = client.get("/inbox/leaderboard?month=2000-01", headers=EN).text
    assert "month=1999-12" not in first
    assert "month=2000-02" in first
