"""The assignment page on a phone (390x844) in a real headless Chromium.

After reporting a link the outcome is on screen and focused without scrolling, and the
Web Share button stays hidden where the browser has no navigator.share. Screenshots go to
$GAUNG_SCREENSHOT_DIR when set (to look at the page), else to the test's tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from sqlmodel import Session, select

from content.models import PostStatus
from roster.models import SocialAccount
from roster.security import make_magic_token
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from tests.test_e2e_browser import browser, server  # noqa: F401 - the shared fixtures

pytestmark = pytest.mark.slow

PHONE: ViewportSize = {"width": 390, "height": 844}
NO_WEB_SHARE = "delete Navigator.prototype.share; delete Navigator.prototype.canShare;"


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GAUNG_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _in_viewport_and_focused(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not rendered"
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= PHONE["height"], box
    assert page.evaluate("document.activeElement && document.activeElement.id") == "outcome"


def test_reporting_on_a_phone_shows_the_outcome_in_view_and_hides_web_share(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agency = make_agency(session)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency)
    post = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
    post.official_url_x = "https://x.com/KemkomdigiRI/status/1790000000000000042"
    session.add(post)
    session.commit()
    asn = make_asn(session, make_unit(session, agency))
    assignment = make_assignment(session, post, asn, "x")
    handle = session.exec(
        select(SocialAccount.handle).where(
            SocialAccount.asn_id == asn.id, SocialAccount.platform == "x"
        )
    ).one()
    shots = _shots(tmp_path)

    page = browser.new_page(base_url=server, locale="id-ID", viewport=PHONE)
    page.add_init_script(NO_WEB_SHARE)
    page.goto(f"/inbox/login/{make_magic_token(asn.id or 0, asn.login_epoch)}")
    page.goto(f"/inbox/{assignment.id}")
    page.screenshot(path=str(shots / "inbox-assignment-top.png"))
    page.screenshot(path=str(shots / "inbox-assignment-full.png"), full_page=True)

    assert page.evaluate("typeof navigator.share") == "undefined"
    assert not page.locator(".js-share").is_visible()
    assert page.locator("[data-copy='#share-text']").is_visible()  # the script did run
    assert page.locator("a[href^='https://x.com/intent/retweet']").is_visible()

    page.fill("#repost_url", f"https://x.com/{handle}/status/1862000000000000001")
    page.click(f"form[action='/inbox/{assignment.id}/report'] button[type=submit]")
    page.wait_for_load_state()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'outcome'")
    page.screenshot(path=str(shots / "inbox-assignment-reported.png"))

    assert page.url.endswith(f"/inbox/{assignment.id}#outcome")
    assert "Terima kasih" in page.inner_text("#outcome")
    _in_viewport_and_focused(page, "#outcome")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
