"""An ASN whose last message could not be delivered sees it on a phone (390x844) in a real
headless Chromium: the inbox says so at the top, one tap leads to the message settings,
which say what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from content.models import PostStatus
from kernel.outbox import NO_ADDRESS, OutboxMessage, OutboxStatus
from roster.security import make_magic_token
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.test_e2e_browser import browser, server  # noqa: F401 - the shared fixtures

pytestmark = pytest.mark.slow

PHONE: ViewportSize = {"width": 390, "height": 844}


def test_the_asn_finds_and_fixes_an_undelivered_message_on_a_phone(
    db: Engine,
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    asn = make_asn(session, make_unit(session, agency), platforms=["x"])
    asn.messenger, asn.email = "email", None  # chose e-mail, but gave no address
    session.add(asn)
    session.commit()
    post = make_post(session, make_campaign(session, agency), editor, status=PostStatus.APPROVED)
    assert post.id is not None
    dispatch_post(db, post.id)
    failed = session.exec(select(OutboxMessage).where(OutboxMessage.asn_id == asn.id)).first()
    assert failed is not None
    assert (failed.status, failed.last_error) == (OutboxStatus.FAILED, NO_ADDRESS)
    shots = Path(os.environ.get("GAUNG_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    page = browser.new_page(base_url=server, locale="id-ID", viewport=PHONE)
    page.goto(f"/inbox/login/{make_magic_token(asn.id or 0, asn.login_epoch)}")
    page.goto("/inbox")
    page.screenshot(path=str(shots / "inbox-undelivered.png"))

    notice = page.locator("#undelivered")
    box = notice.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= PHONE["height"]  # seen without scrolling
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert "tidak dapat dikirim" in notice.inner_text()
    assert "lewat Surel" in notice.inner_text()

    page.click("#undelivered a")
    page.wait_for_load_state()
    assert page.url.endswith("/inbox/settings#undelivered")
    fix = page.locator("#undelivered").inner_text()
    assert "Tambahkan alamat surel Anda di bawah" in fix
    page.screenshot(path=str(shots / "settings-undelivered.png"))
