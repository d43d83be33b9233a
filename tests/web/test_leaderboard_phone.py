"""The ASN's standing and the leaderboard on a phone (390x844) in a real headless Chromium.

The standing sits near the top of the inbox, the lists fit the width (no sideways
scrolling, even with long names), and joining from the invitation works by tapping.
Screenshots go to $GAUNG_SCREENSHOT_DIR when set, else to the test's tmp_path.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlmodel import Session

from assignments.models import AssignmentStatus
from content.models import PostStatus
from gaung.db import utcnow
from roster import recognition
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
from tests.web.test_inbox_phone import PHONE, _shots

pytestmark = pytest.mark.slow

LONG_NAME = "Raden Ajeng Kartika Sekar Ayuningtyas Wulandari Prameswari Kusumawardhani"


def test_the_standing_and_the_lists_fit_a_phone_and_joining_is_a_tap(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agency = make_agency(session, name="Kementerian Komunikasi dan Digital")
    unit = make_unit(session, agency, "Biro Hubungan Masyarakat dan Informasi Publik")
    author = make_user(session, agency)
    post = make_post(
        session, make_campaign(session, agency, author), author, status=PostStatus.DISPATCHED
    )
    colleagues = [make_asn(session, unit) for _ in range(12)]
    colleagues[2].name = LONG_NAME  # among the first: two verified reposts
    session.add(colleagues[2])
    for index, person in enumerate(colleagues):
        recognition.join(session, person)
        for platform in ("x", "facebook", "instagram")[: index % 3]:
            assignment = make_assignment(session, post, person, platform)
            assignment.status = AssignmentStatus.VERIFIED
            assignment.verified_at = utcnow() - timedelta(minutes=5)
            session.add(assignment)
    session.commit()
    newcomer = make_asn(session, unit)
    shots = _shots(tmp_path)

    page = browser.new_page(base_url=server, locale="id-ID", viewport=PHONE)
    page.goto(f"/inbox/login/{make_magic_token(newcomer.id or 0, newcomer.login_epoch)}")
    page.goto("/inbox")
    page.screenshot(path=str(shots / "inbox-leaderboard-invitation.png"))
    assert page.locator(".standing.invite").is_visible()

    page.click(".standing.invite a")
    page.wait_for_load_state()
    assert "Ikut papan peringkat?" in page.inner_text("main")
    assert LONG_NAME not in page.inner_text("main")  # the lists only after joining
    page.click("#leaderboard-invite button[type=submit]")
    page.wait_for_load_state()
    page.screenshot(path=str(shots / "inbox-leaderboard.png"), full_page=True)
    assert LONG_NAME in page.inner_text("main")
    assert "Peringkat Anda: 9 dari 13 di unit" in page.inner_text(".standing-line")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.goto("/inbox")
    page.screenshot(path=str(shots / "inbox-standing.png"))
    standing = page.locator("#standing")
    box = standing.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= PHONE["height"]  # seen without scrolling
    assert "Peringkat Anda bulan ini: 9 dari 13 di unit" in standing.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
