"""/console/account: a supervisor turns the weekly report e-mail on and off; others cannot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from playwright.sync_api import Browser, ViewportSize
from sqlmodel import Session, col, select

from kernel.audit import AuditLog
from roster import weekly_report
from roster.models import Agency, Role
from tests.factories import PASSWORD, make_agency, make_user
from tests.test_e2e_browser import browser, server  # noqa: F401 - the shared fixtures
from tests.web.conftest import csrf_from, login_staff

PAGE = "/console/account"
SETTING = "/console/account/weekly-report"
PHONE: ViewportSize = {"width": 390, "height": 844}


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GAUNG_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _choose(client: TestClient, value: str) -> Response:
    token = csrf_from(client, PAGE)
    response: Response = client.post(
        SETTING, data={"csrf_token": token, "weekly_report": value}, follow_redirects=False
    )
    return response


def test_a_supervisor_turns_the_weekly_report_on_then_off(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    agency.timezone = "Asia/Jayapura"
    session.add(agency)
    session.commit()
    supervisor = make_user(session, session.get_one(Agency, agency.id), Role.SUPERVISOR)
    login_staff(client, supervisor)

    page = client.get(PAGE)
    assert 'id="weekly-report"' in page.text
    assert "Laporan mingguan" in page.text
    assert "Kirimi saya laporan mingguan" in page.text  # off until they ask
    assert weekly_report.subscribed_since(session, supervisor) is None

    turned_on = _choose(client, "on")
    assert turned_on.status_code == 303
    page = client.get(PAGE)
    assert "Laporan mingguan aktif: dikirim lewat surel setiap Senin." in page.text
    session.expire_all()
    since = weekly_report.subscribed_since(session, supervisor)
    assert since is not None
    assert "Sejak " in page.text
    assert " WIT." in page.text  # when, in the agency's zone, named
    assert "Matikan laporan mingguan" in page.text
    assert _choose(client, "on").status_code == 303  # again: nothing changes
    session.expire_all()
    assert weekly_report.subscribed_since(session, supervisor) == since

    assert _choose(client, "off").status_code == 303
    page = client.get(PAGE)
    assert "Laporan mingguan nonaktif." in page.text
    session.expire_all()
    assert weekly_report.subscribed_since(session, supervisor) is None
    actions = session.exec(
        select(AuditLog.action).where(col(AuditLog.entity_id) == supervisor.id)
    ).all()
    assert actions.count("user.weekly_report_on") == 1
    assert actions.count("user.weekly_report_off") == 1


def test_an_editor_is_not_offered_the_report_and_cannot_turn_it_on(
    client: TestClient, session: Session
) -> None:
    editor = make_user(session, make_agency(session), Role.EDITOR)
    login_staff(client, editor)

    assert 'id="weekly-report"' not in client.get(PAGE).text
    refused = _choose(client, "on")

    assert refused.status_code == 400
    assert 'id="weekly_report-error"' in refused.text
    assert "hanya untuk supervisor, penyetuju, dan administrator" in refused.text
    assert weekly_report.subscribed_since(session, editor) is None


def test_a_choice_other_than_on_or_off_is_refused_by_name(
    client: TestClient, session: Session
) -> None:
    approver = make_user(session, make_agency(session), Role.APPROVER)
    login_staff(client, approver)

    for value in ("", "yes", "ON "):
        refused = _choose(client, value)
        assert refused.status_code == 400
        assert "Pilih aktif atau nonaktif untuk laporan mingguan." in refused.text
    assert weekly_report.subscribed_since(session, approver) is None


def test_the_setting_needs_the_forms_csrf_token_and_a_sign_in(
    client: TestClient, session: Session
) -> None:
    supervisor = make_user(session, make_agency(session), Role.SUPERVISOR)
    anonymous = client.post(SETTING, data={"weekly_report": "on"}, follow_redirects=False)
    assert anonymous.status_code in (303, 401, 403)
    login_staff(client, supervisor)

    forged = client.post(SETTING, data={"weekly_report": "on"}, follow_redirects=False)

    assert forged.status_code in (400, 403)
    assert weekly_report.subscribed_since(session, supervisor) is None


@pytest.mark.slow
def test_on_a_phone_the_weekly_report_is_turned_on_with_one_tap(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    supervisor = make_user(session, make_agency(session), Role.SUPERVISOR)
    page = browser.new_page(base_url=server, locale="id-ID", viewport=PHONE)
    page.goto("/login")
    page.fill("#email", supervisor.email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()

    page.goto(PAGE)
    card = page.locator("#weekly-report")
    card.get_by_role("button", name="Kirimi saya laporan mingguan").click()
    page.wait_for_load_state()

    assert page.url.endswith(PAGE)
    status = page.get_by_role("status")
    assert "Laporan mingguan aktif" in status.inner_text()
    assert "Aktif" in card.inner_text()
    box = card.get_by_role("button", name="Matikan laporan mingguan").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]  # nothing runs off a phone's screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    card.screenshot(path=str(_shots(tmp_path) / "account-weekly-report-phone.png"))
    session.expire_all()
    assert weekly_report.subscribed_since(session, supervisor) is not None
