"""Time to notify on a phone (390x844, real headless Chromium): the approver reads the
estimate per messenger in the approval queue and on the post without sideways scrolling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize
from sqlmodel import Session

from channels import webpush
from content.models import CampaignKind, PostStatus
from roster.models import Role
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.test_e2e_browser import _sign_in, browser, server  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.slow

PHONE: ViewportSize = {"width": 390, "height": 844}


def test_an_approver_reads_the_estimate_on_a_phone(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency, "Direktorat Jenderal Informasi dan Komunikasi Publik")
    editor = make_user(session, agency, role=Role.EDITOR)
    approver = make_user(session, agency, role=Role.APPROVER)
    campaign = make_campaign(
        session, agency, editor, kind=CampaignKind.HOAX_CLARIFICATION, units=[unit]
    )
    post = make_post(session, campaign, editor, status=PostStatus.SUBMITTED)
    for n, messenger in enumerate(["email", "email", "telegram", "whatsapp", "whatsapp"]):
        person = make_asn(session, unit)
        person.messenger = messenger
        person.phone = f"+6281234567{n:02d}"
        person.telegram_chat_id = f"90{n}"
        session.add(person)
        session.commit()
        if n == 0:
            assert person.id is not None
            session.add(
                webpush.PushSubscription(
                    asn_id=person.id,
                    endpoint="https://push.example.net/send/1",
                    endpoint_hash="a" * 64,
                    origin="https://push.example.net",
                    p256dh="BP" + "A" * 85,
                    auth="c2VjcmV0",
                )
            )
            session.commit()
    shots = Path(os.environ.get("GAUNG_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    page = _sign_in(browser, server, approver.email)
    page.set_viewport_size(PHONE)
    for path, name in (("/console/approvals", "approvals"), (f"/console/posts/{post.id}", "post")):
        page.goto(path)
        if name == "approvals":  # folded under its summary: the time to the last, the cost
            summary = page.locator("details.notify-estimate summary")
            assert "Rp713" in summary.inner_text()
            summary.click()
        page.screenshot(path=str(shots / f"notify-estimate-{name}.png"), full_page=True)
        estimate = page.locator("[data-notify=estimate]")
        assert estimate.is_visible()
        text = estimate.inner_text()
        for expected in ("Surel", "Telegram", "WhatsApp", "Notifikasi di perangkat", "Rp713"):
            assert expected in text, (path, expected)
        assert "Mendesak" in text  # it jumps the normal queue and says so
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
