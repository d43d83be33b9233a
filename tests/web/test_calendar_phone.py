"""The content calendar in a real headless Chromium, on a phone (390x844) and a desktop.

On a phone the week and the month read as lists without sideways scrolling, and a draft
is moved from its entry's form; on a desktop a draft is dragged to another day.
Screenshots go to $GAUNG_SCREENSHOT_DIR when set, else tmp_path.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from sqlmodel import Session

from gaung import i18n
from gaung.db import utcnow
from roster.models import Role
from tests.factories import PASSWORD, make_agency, make_campaign, make_post, make_user
from tests.test_e2e_browser import browser, server  # noqa: F401 - the shared fixtures

pytestmark = pytest.mark.slow

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
WITA = "Asia/Makassar"


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GAUNG_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide"


def test_an_editor_reads_the_week_and_moves_a_draft_on_a_phone(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agency = make_agency(session)
    agency.timezone = WITA
    session.add(agency)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, text="Draf pengumuman layanan publik")
    tomorrow = (utcnow() + timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
    post.scheduled_at = tomorrow
    session.add(post)
    session.commit()
    day = i18n.local_time(tomorrow, WITA).date()
    shots = _shots(tmp_path)

    page = browser.new_page(base_url=server, locale="id-ID", viewport=PHONE)
    page.goto("/login")
    page.fill("#email", editor.email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()

    page.goto(f"/console/calendar?view=week&day={day.isoformat()}")
    page.screenshot(path=str(shots / "calendar-week-phone.png"), full_page=True)
    _no_sideways_scroll(page)
    assert page.locator("text=Waktu dalam WITA").is_visible()
    entry = page.locator(f"a[href='/console/posts/{post.id}']")
    assert entry.is_visible()
    assert "09:00 WITA" in page.locator(".cal-entry").first.inner_text()

    page.click(".cal-move summary")
    new_value = f"{day + timedelta(days=2):%Y-%m-%d}T14:30"
    page.fill(f"#move-{post.id}", new_value)
    page.click(".cal-move button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".flash").is_visible()
    assert "Dipindahkan ke" in page.locator(".flash").inner_text()
    session.refresh(post)
    assert post.scheduled_at is not None
    assert i18n.local_time(post.scheduled_at, WITA).strftime("%Y-%m-%dT%H:%M") == new_value

    page.goto(f"/console/calendar?view=month&day={day.isoformat()}")
    page.screenshot(path=str(shots / "calendar-month-phone.png"), full_page=True)
    _no_sideways_scroll(page)
    assert page.locator(f"a[href='/console/posts/{post.id}']").is_visible()
    # Days without anything planned are left out of the list on a phone.
    assert page.locator("td.cal-empty").first.is_hidden()


def test_a_draft_dragged_to_another_day_keeps_its_time_of_day(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agency = make_agency(session)
    agency.timezone = WITA
    session.add(agency)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, text="Draf yang digeser")
    # A weekday from tomorrow on, so the day after it is in the same week.
    moment = next(
        m
        for k in range(1, 8)
        if (m := (utcnow() + timedelta(days=k)).replace(hour=2, minute=15, second=0, microsecond=0))
        and i18n.local_time(m, WITA).weekday() < 5
    )
    post.scheduled_at = moment
    session.add(post)
    session.commit()
    day = i18n.local_time(moment, WITA).date()
    target = day + timedelta(days=1)

    page = browser.new_page(base_url=server, locale="id-ID", viewport=DESKTOP)
    page.goto("/login")
    page.fill("#email", editor.email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"/console/calendar?view=week&day={day.isoformat()}")
    page.screenshot(path=str(_shots(tmp_path) / "calendar-week-desktop.png"), full_page=True)
    page.drag_and_drop(".cal-draggable", f"li[data-day='{target.isoformat()}']")
    page.wait_for_selector(".flash")
    session.refresh(post)
    assert post.scheduled_at is not None
    moved = i18n.local_time(post.scheduled_at, WITA)
    assert moved.date() == target
    assert moved.strftime("%H:%M") == "10:15"
    page.goto(f"/console/calendar?view=month&day={day.isoformat()}")
    page.screenshot(path=str(_shots(tmp_path) / "calendar-month-desktop.png"), full_page=True)
    assert page.locator("table.cal-month thead th").count() == 7


def test_an_editor_sets_a_weekly_rule_in_the_browser_and_sees_its_next_times(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agency = make_agency(session)
    agency.timezone = WITA
    session.add(agency)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    session.commit()

    page = browser.new_page(base_url=server, locale="id-ID", viewport=DESKTOP)
    page.goto("/login")
    page.fill("#email", editor.email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"/console/campaigns/{campaign.id}")
    page.click(f"a[href='/console/campaigns/{campaign.id}/repeat']")
    page.check("input[name=frequency][value=weekly]")
    for box in page.locator("input[name=weekdays]").all():
        box.uncheck()
    page.check("input[name=weekdays][value=FR]")
    page.fill("#at", "09:00")
    page.fill("#starts_on", f"{utcnow() + timedelta(days=1):%Y-%m-%d}")
    page.click("form[action$='/repeat'] button[type=submit]")
    page.wait_for_selector(".flash")
    page.screenshot(path=str(_shots(tmp_path) / "repeat-desktop.png"), full_page=True)
    coming = page.locator("section.card li").all_inner_texts()
    assert len(coming) == 5
    assert all(text.startswith("Jumat") and "09.00 WITA" in text for text in coming), coming
    assert "RRULE:FREQ=WEEKLY;BYDAY=FR" in page.locator("pre").inner_text()
