"""A member's approver accepts a campaign offer on a phone (390x844) in a real headless
Chromium: the offers list, the offer with the coordinator's post and the accept form, and
the copy's campaign page after accepting, none wider than the screen. Screenshots go to
$GAUNG_SCREENSHOT_DIR when set, else to the test's tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from sqlmodel import Session

from content.models import Campaign, CampaignUnit
from tests.test_e2e_browser import _sign_in, browser, server  # noqa: F401 - shared fixtures
from tests.web.test_offers_console import Net

pytestmark = pytest.mark.slow

PHONE: ViewportSize = {"width": 390, "height": 844}


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_member_approver_accepts_an_offer_on_a_phone(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    net = Net(session)
    net.campaign.title = "Peringatan Hari Pahlawan Nasional dan Gerakan Literasi Digital Nasional"
    session.add(net.campaign)
    session.commit()
    net.offer()
    shots = Path(os.environ.get("GAUNG_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    page = _sign_in(browser, server, net.member_approver.email)
    page.set_viewport_size(PHONE)
    page.goto("/console/offers")
    page.screenshot(path=str(shots / "offers-phone.png"), full_page=True)
    _fits(page)
    assert "Kementerian Kominfo" in page.locator("li.offer").inner_text()

    page.click("li.offer h2 a")
    page.wait_for_load_state()
    page.screenshot(path=str(shots / "offer-phone.png"), full_page=True)
    _fits(page)
    assert "Hari Pahlawan: mari kenang jasa" in page.locator(".offered-post").first.inner_text()
    page.get_by_label("Biro Utara").check()
    page.get_by_role("button", name="Terima tawaran").click()
    page.wait_for_load_state()
    page.screenshot(path=str(shots / "offer-accepted-phone.png"), full_page=True)
    _fits(page)

    assert "/console/campaigns/" in page.url
    assert "Tawaran diterima" in page.locator(".flash").inner_text()
    assert "Kampanye ini diterima dari tawaran Kementerian Kominfo." in page.content()
    session.expire_all()
    copy = session.get_one(Campaign, net.offer_to(net.member).copy_id)
    assert copy.agency_id == net.member.id
    assert [u.unit_id for u in session.query(CampaignUnit).filter_by(campaign_id=copy.id)] == [
        net.north.id
    ]
