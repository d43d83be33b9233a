"""Humas answers in the console (a real Chromium); the ASN reads the answer on a phone.

Screenshots go to $GAUNG_SCREENSHOT_DIR when set, else to the test's tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize
from sqlmodel import Session, select

from assignments import feedback as service
from assignments.feedback import FeedbackReply
from content.models import PostStatus
from kernel.outbox import OutboxKind, OutboxMessage
from roster.models import Role
from roster.security import make_magic_token
from tests.factories import (
    PASSWORD,
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
ANSWER = (
    "Pendaftaran dibuka 1 Januari di kantor kecamatan. Info lengkap: "
    "https://www.example.go.id/pengumuman/pendaftaran-program-umkm-desa-tahun-2027-tahap-pertama"
)


def test_an_answer_written_in_the_console_reaches_the_asn_on_a_phone(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency)
    post = make_post(session, campaign, editor, status=PostStatus.DISPATCHED)
    asn = make_asn(session, make_unit(session, agency))
    assignment = make_assignment(session, post, asn)
    item = service.submit(session, asn, assignment.id or 0, "Apakah program ini untuk UMKM desa?")
    shots = Path(os.environ.get("GAUNG_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    console = browser.new_page(base_url=server, locale="id-ID")
    console.goto("/login")
    console.fill("#email", editor.email)
    console.fill("#password", PASSWORD)
    console.click("form[action='/login'] button[type=submit]")
    console.wait_for_load_state()
    console.goto(f"/console/campaigns/{campaign.id}/feedback")
    console.click(f"#feedback-{item.id} summary")
    console.fill(f"#reply-{item.id}", ANSWER)
    console.click(f"form[action='/console/feedback/{item.id}/reply'] button[type=submit]")
    console.wait_for_load_state()
    console.screenshot(path=str(shots / "console-feedback-answered.png"), full_page=True)

    assert "Jawaban tersimpan" in console.inner_text(".flash")
    assert ANSWER in console.inner_text(f"#feedback-{item.id}")
    session.expire_all()
    assert len(session.exec(select(FeedbackReply)).all()) == 1
    (message,) = session.exec(select(OutboxMessage)).all()
    assert message.kind == OutboxKind.FEEDBACK_REPLY

    phone = browser.new_page(base_url=server, locale="id-ID", viewport=PHONE)
    phone.goto(f"/inbox/login/{make_magic_token(asn.id or 0, asn.login_epoch)}")
    phone.goto(f"/inbox/{assignment.id}#feedback")
    phone.screenshot(path=str(shots / "inbox-feedback-answer.png"), full_page=True)

    thread = phone.locator(".feedback-thread")
    assert thread.is_visible()
    assert "Jawaban dari Humas" in thread.inner_text()
    assert ANSWER in thread.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
