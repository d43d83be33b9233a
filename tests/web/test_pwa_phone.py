"""The installable inbox in a real headless Chromium at phone size (390x844): the manifest is
linked and valid, the service worker registers and controls the inbox, the last list seen
is shown with the network off, and signing out deletes that copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, ViewportSize
from sqlmodel import Session

from content.models import PostStatus
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


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GAUNG_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_inbox_installs_and_shows_the_last_list_offline_until_signing_out(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agency = make_agency(session)
    author = make_user(session, agency)
    unit = make_unit(session, agency)
    asn = make_asn(session, unit, platforms=["x"])
    campaign = make_campaign(session, agency)
    campaign.title = "Klarifikasi hoaks bansos"
    session.add(campaign)
    session.commit()
    post = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
    make_assignment(session, post, asn, "x")
    shots = _shots(tmp_path)

    context = browser.new_context(
        base_url=server, viewport=PHONE, locale="id-ID", service_workers="allow"
    )
    page = context.new_page()
    page.set_default_timeout(60_000)  # the machine may be busy
    page.goto(f"/inbox/login/{make_magic_token(asn.id or 0, asn.login_epoch)}")
    assert page.url.endswith("/inbox")

    # The manifest is linked and what an install needs.
    manifest = page.evaluate(
        """async () => {
          const link = document.querySelector('link[rel="manifest"]');
          const response = await fetch(link.href);
          return {type: response.headers.get("content-type"), body: await response.json()};
        }"""
    )
    assert manifest["type"].startswith("application/manifest+json")
    assert manifest["body"]["short_name"] == "Gaung"
    assert manifest["body"]["display"] == "standalone"
    assert {i["sizes"] for i in manifest["body"]["icons"]} >= {"192x192", "512x512"}

    # The service worker registers for the inbox and takes control of the page.
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == f"{server}/inbox"
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == f"{server}/sw.js"
    page.wait_for_function("caches.has('gaung-inbox-list')")
    assert page.get_by_text("Klarifikasi hoaks bansos").is_visible()

    # The install guide fits the phone and says where to turn notifications on.
    page.goto("/inbox/app")
    page.screenshot(path=str(shots / "inbox-install-guide.png"), full_page=True)
    assert page.get_by_role("heading", name="iPhone").is_visible()
    assert page.get_by_role("link", name="Aktifkan notifikasi").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.goto("/inbox")

    # A new assignment arrives while the phone is offline: the kept list is shown, without it.
    second = make_campaign(session, agency)
    second.title = "Kampanye baru saat luring"
    session.add(second)
    session.commit()
    make_assignment(session, make_post(session, second, author, status=PostStatus.DISPATCHED), asn)
    context.set_offline(True)
    page.reload()
    page.screenshot(path=str(shots / "inbox-offline.png"))
    assert page.get_by_text("Klarifikasi hoaks bansos").is_visible()
    assert page.get_by_text("Kampanye baru saat luring").count() == 0
    assert page.locator("[data-offline]").is_visible()  # it says it is the kept list
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Back online the list is fresh; signing out deletes the copy, so offline shows nothing.
    context.set_offline(False)
    page.reload()
    assert page.get_by_text("Kampanye baru saat luring").is_visible()
    assert not page.locator("[data-offline]").is_visible()
    page.locator("form[action='/inbox/logout'] button").click()
    page.wait_for_url("**/inbox/login")
    assert page.evaluate("caches.has('gaung-inbox-list')") is False
    context.set_offline(True)
    with pytest.raises(Error):
        page.goto("/inbox")
    context.close()
