"""The "not acted yet" page on a phone (390x844) in a real headless Chromium.

A supervisor opens it from the campaign's dashboard, reads the units (long names, long
person names) without sideways scrolling, sends a unit's reminder and sees the outcome;
the unit then says from when the next one is possible instead of offering the button.
Screenshots go to $GAUNG_SCREENSHOT_DIR when set, else to the test's tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize
from sqlmodel import Session, col, select

from content.models import PostStatus
from kernel.outbox import OutboxMessage
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
from tests.test_e2e_browser import _sign_in, browser, server  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.slow

PHONE: ViewportSize = {"width": 390, "height": 844}
UNITS = (
    "Direktorat Jenderal Informasi dan Komunikasi Publik, Subdirektorat Pengelolaan Opini",
    "Biro Humas",
)


def test_a_supervisor_reminds_a_unit_from_a_phone(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agency = make_agency(session)
    author = make_user(session, agency)
    supervisor = make_user(session, agency, role=Role.SUPERVISOR)
    campaign = make_campaign(session, agency)
    post = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
    for unit_name in UNITS:
        unit = make_unit(session, agency, unit_name)
        for n in range(3):
            asn = make_asn(session, unit)
            asn.name = f"Raden Mas Bagus Hadiningrat Kusumawardhana Putra {n}"
            session.add(asn)
            session.commit()
            for platform in ("x", "facebook", "instagram"):
                make_assignment(session, post, asn, platform)
    shots = Path(os.environ.get("GAUNG_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    page = _sign_in(browser, server, supervisor.email)
    page.set_viewport_size(PHONE)
    page.goto(f"/dashboard/campaigns/{campaign.id}")
    page.click(f"a[href='/dashboard/campaigns/{campaign.id}/not-acted']")
    page.wait_for_load_state()
    page.screenshot(path=str(shots / "not-acted-phone.png"), full_page=True)

    assert page.locator("section.unit").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    humas = page.locator("section.unit", has_text="Biro Humas")
    assert "3 belum bertindak" in humas.inner_text()

    humas.get_by_role("button", name="Kirim pengingat").click()
    page.wait_for_load_state()
    page.screenshot(path=str(shots / "not-acted-phone-sent.png"), full_page=True)

    flash = page.locator(".flash")
    assert "Biro Humas: pengingat dalam antrean: 3." in flash.inner_text()
    box = flash.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= PHONE["height"]
    humas = page.locator("section.unit", has_text="Biro Humas")
    assert "Pengingat manual berikutnya dapat dikirim mulai" in humas.inner_text()
    assert humas.get_by_role("button").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    sent = session.exec(
        select(OutboxMessage).where(col(OutboxMessage.key).startswith("manual-reminder:"))
    ).all()
    assert len(sent) == 3
