"""The dashboard and its drill-downs in a real headless Chromium, on a phone and at 1366x768.

Realistic data: several units with long names, three posts, X, Facebook and Instagram,
seven-digit follower counts. On a phone (390x844) the tables are cards (one per row, each
cell labelled from data-label, CSS only); at 1366x768 nothing is wider than the window and
no table has to scroll. Screenshots go to $GAUNG_SCREENSHOT_DIR when set, else tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from sqlmodel import Session

from assignments.evidence import Check, Outcome, Reason, record
from assignments.models import AssignmentStatus, Click
from content.models import Campaign, PostStatus
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
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
UNITS = (
    "Direktorat Jenderal Informasi dan Komunikasi Publik, Subdirektorat Pengelolaan Opini",
    "Sekretariat Direktorat Jenderal Aplikasi Informatika",
    "Badan Pengembangan Sumber Daya Manusia Komunikasi dan Informatika",
    "Biro Humas",
)
POSTS = (
    "Pekan Literasi Digital Nasional 2026 dimulai hari ini di 34 provinsi #LiterasiDigital",
    "Waspada hoaks bantuan sosial: cek faktanya di situs resmi sebelum menyebarkan",
    "Jaringan 4G kini menjangkau 7.000 desa di daerah 3T",
)
# (platform, status, personal account) dealt round robin over the ASN
PLAN = (
    ("x", "verified", False), ("x", "reported", False), ("x", "rejected", False),
    ("facebook", "reported", False), ("facebook", "pending", False),
    ("instagram", "verified", False), ("instagram", "reported", True), ("x", "declined", False),
)  # fmt: skip


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GAUNG_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _campaign(session: Session) -> tuple[Campaign, str, list[str]]:
    """A campaign over four units and three posts; returns it, a supervisor, drill-down paths."""
    agency = make_agency(session)
    author = make_user(session, agency)
    supervisor = make_user(session, agency, role=Role.SUPERVISOR)
    campaign = make_campaign(session, agency)
    campaign.title = "Gerakan Nasional Literasi Digital: Indonesia Makin Cakap Digital 2026"
    session.add(campaign)
    posts = [
        make_post(session, campaign, author, status=PostStatus.DISPATCHED, text=text)
        for text in POSTS
    ]
    units = [make_unit(session, agency, name) for name in UNITS]
    n = 0
    for unit in units:
        for _ in range(3):
            asn = make_asn(session, unit, followers=1_234_567 + n)
            for post in posts:
                platform, status, personal = PLAN[n % len(PLAN)]
                n += 1
                assignment = make_assignment(session, post, asn, platform)
                if status in ("pending", "declined"):
                    assignment.status = status
                    session.add(assignment)
                    continue
                assignment.status = AssignmentStatus.REPORTED
                assignment.followers_at_report = 1_234_567 + n
                if personal:
                    record(
                        session, assignment, check=Check.INSTAGRAM_GRAPH,
                        outcome=Outcome.UNVERIFIABLE, reason=Reason.NOT_SUPPORTED,
                    )  # fmt: skip
                elif status != "reported":
                    outcome = Outcome.VERIFIED if status == "verified" else Outcome.REJECTED
                    record(session, assignment, check=Check.X_SEARCH, outcome=outcome)
                session.add(assignment)
                session.add(Click(assignment_id=assignment.id or 0, campaign_id=post.campaign_id))
    session.commit()
    base = f"/dashboard/campaigns/{campaign.id}"
    paths = [
        "/dashboard",
        base,
        f"{base}/posts/{posts[0].id}",
        f"{base}/units/{units[0].id}",
    ]
    return campaign, supervisor.email, paths


def _fits(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"{page.url}: the page is {width}px wide in a {inner}px window"


def test_the_dashboard_is_cards_on_a_phone_and_fits_1366(
    session: Session,
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    _campaign_row, email, paths = _campaign(session)
    shots = _shots(tmp_path)
    page = _sign_in(browser, server, email)

    for name, size in (("phone", PHONE), ("laptop", LAPTOP)):
        page.set_viewport_size(size)
        for index, path in enumerate(paths):
            response = page.goto(path)
            assert response is not None
            assert response.status == 200, path
            page.screenshot(path=str(shots / f"dashboard-{name}-{index}.png"), full_page=True)
            _fits(page)
            rows = page.locator("table.cards tbody tr")
            assert rows.count() > 0, path
            display = rows.first.evaluate("row => getComputedStyle(row).display")
            if size is PHONE:
                assert display == "block", path  # a card per row
                label = page.locator("table.cards td[data-label]").first.evaluate(
                    "cell => getComputedStyle(cell, '::before').content"
                )
                assert label not in ("none", "normal", '""'), path
                assert page.locator("table.cards thead").first.bounding_box() is not None
            else:
                assert display == "table-row", path
                cut = page.evaluate(
                    "[...document.querySelectorAll('.table-wrap')]"
                    ".filter(w => w.scrollWidth > w.clientWidth + 1).length"
                )
                assert cut == 0, f"{path}: a table scrolls sideways at 1366 px"

    # The headline on a phone: the honest rate and what cannot be verified.
    page.set_viewport_size(PHONE)
    page.goto(paths[1])
    assert page.locator("li[data-figure='unverifiable']").is_visible()
    assert "Dilaporkan, tidak dapat diverifikasi" in page.inner_text("ul.figures")
