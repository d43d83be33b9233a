"""The main flow in a real headless Chromium against a real `gaung serve`.

Editor drafts, approver approves, the in-process scheduler dispatches, the ASN
reports a repost link from the inbox, the supervisor sees it counted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import func, select
from sqlmodel import Session, col

from assignments.models import Assignment, AssignmentStatus
from content.models import Campaign, Post, PostStatus
from roster.models import Role, SocialAccount
from roster.security import make_magic_token
from tests.factories import PASSWORD, make_agency, make_asn, make_unit, make_user

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GAUNG_DATABASE_URL": db_url,
        "GAUNG_BASE_URL": base,
        "GAUNG_MEDIA_DIR": str(tmp_path / "media"),
        "GAUNG_SCHEDULER__ENABLED": "true",
        "GAUNG_SCHEDULER__POLL_SECONDS": "0.5",
    }
    gaung = Path(sys.executable).with_name("gaung")
    cmd = [str(gaung), "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("gaung serve did not start:\n" + (tmp_path / "server.log").read_text())
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _sign_in(browser: Browser, base: str, email: str) -> Page:
    page = browser.new_page(base_url=base, locale="id-ID")
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()
    return page


def _wait_for_assignments(session: Session, campaign_id: int) -> int:
    """The campaign's assignment count once every post of it is dispatched. Counting as soon
    as any assignment shows raced the dispatch, which commits one platform at a time."""
    posts = select(func.count()).where(
        col(Post.campaign_id) == campaign_id, col(Post.status) != PostStatus.DISPATCHED
    )
    query = select(func.count()).where(col(Assignment.campaign_id) == campaign_id)
    for _ in range(60):
        session.expire_all()
        if not session.execute(posts).scalar_one():
            return int(session.execute(query).scalar_one())
        time.sleep(0.5)
    pytest.fail("the scheduler did not dispatch the approved post")


def test_draft_approve_dispatch_report_and_count(
    session: Session, server: str, browser: Browser
) -> None:
    agency = make_agency(session, slug="kominfo", name="Kementerian Kominfo")
    unit = make_unit(session, agency, name="Biro Humas")
    editor = make_user(session, agency, Role.EDITOR)
    approver = make_user(session, agency, Role.APPROVER)
    supervisor = make_user(session, agency, Role.SUPERVISOR)
    asn = make_asn(session, unit, followers=1234, platforms=["x", "facebook"])
    for _ in range(2):
        make_asn(session, unit, followers=800, platforms=["x"])

    # Editor drafts a campaign and a post, sees the renditions, submits.
    page = _sign_in(browser, server, editor.email)
    page.goto("/console/campaigns/new")
    page.fill("#title", "Transformasi Digital Desa")
    page.select_option("#kind", "program")
    page.fill("#starts_at", "2029-01-01T08:00")  # the services refuse a start in the past
    page.fill("#deadline", "2030-01-01T08:00")
    page.click("form[action='/console/campaigns'] button[type=submit]")
    page.wait_for_load_state()
    campaign = session.execute(select(Campaign)).scalars().one()
    page.goto(f"/console/campaigns/{campaign.id}/posts/new")
    page.fill("#master_text", "Sinyal 4G kini menjangkau 12.000 desa. Ayo manfaatkan!")
    page.fill("#link", "https://www.kominfo.go.id/berita/desa-digital")
    page.fill("#hashtags", "DesaDigital")
    page.uncheck("input[name=platforms][value=instagram]")
    page.wait_for_timeout(800)  # the debounced live preview
    assert "Sinyal 4G" in page.inner_text("body")
    page.click("#post-form button[type=submit]")
    page.wait_for_load_state()
    page.click("form[action$='/submit'] button[type=submit]")
    page.wait_for_load_state()

    # Approver approves it; the scheduler in the server process dispatches it.
    page = _sign_in(browser, server, approver.email)
    page.goto("/console/approvals")
    page.click("a[href^='/console/posts/']")
    page.click("form[action$='/approve'] button[type=submit]")
    page.wait_for_load_state()
    assert _wait_for_assignments(session, campaign.id or 0) == 4  # 3 on X, 1 on Facebook

    # The ASN opens the inbox from the magic link and reports the repost.
    handle = session.execute(
        select(col(SocialAccount.handle)).where(
            col(SocialAccount.asn_id) == asn.id, col(SocialAccount.platform) == "x"
        )
    ).scalar_one()
    assignment = session.execute(
        select(Assignment).where(col(Assignment.asn_id) == asn.id, col(Assignment.platform) == "x")
    ).scalar_one()
    page = browser.new_page(base_url=server, locale="id-ID")
    page.goto(f"/inbox/login/{make_magic_token(asn.id or 0, asn.login_epoch)}")
    page.goto(f"/inbox/{assignment.id}")
    assert page.input_value("#tracking-url") == f"{server}/r/{assignment.code}"
    page.fill("#repost_url", f"https://x.com/{handle}/status/1862000000000000001")
    page.click(f"form[action='/inbox/{assignment.id}/report'] button[type=submit]")
    page.wait_for_load_state()
    session.expire_all()
    assert session.get_one(Assignment, assignment.id).status == AssignmentStatus.REPORTED

    # The supervisor sees the repost counted, with its potential reach.
    page = _sign_in(browser, server, supervisor.email)
    page.goto(f"/dashboard/campaigns/{campaign.id}")
    body = page.inner_text("body")
    assert handle in body
    assert "1.234" in body  # potential reach, formatted for Indonesian
