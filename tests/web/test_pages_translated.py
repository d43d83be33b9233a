"""Every page, rendered in Indonesian over the demo data, asks only for msgids the catalog
translates: English text a template or view passes to ``_()`` without a catalog entry
(a variable, a keyword Babel does not extract, a msgid added in code nobody extracted)
would otherwise show in English on an Indonesian page."""

from __future__ import annotations

import gettext as _gettext
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment
from cli.demo import DEMO_PASSWORD, seed
from content.models import Campaign, CampaignOffer, Post
from gaung import i18n
from gaung.db import session_scope
from gaung.settings import PROJECT_ROOT, get_settings
from roster.models import Asn, AsnStatus, Invitation, SocialAccount, User
from tests.web.conftest import login_asn, login_staff

# Brand and platform names pass through _() as they are (PersonMessenger.label).
NAMES = {"Telegram", "WhatsApp", "X", "Facebook", "Instagram", "Webhook"}
_PLACEHOLDER = re.compile(r"%\([^)]*\)[sd]")


class _Recording(_gettext.NullTranslations):
    """Answers from the real catalog and remembers every msgid asked for."""

    def __init__(self, real: _gettext.NullTranslations, asked: set[str]) -> None:
        super().__init__()
        self.real, self.asked = real, asked

    def gettext(self, message: str) -> str:
        self.asked.add(message)
        return self.real.gettext(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        self.asked.update((msgid1, msgid2))
        return self.real.ngettext(msgid1, msgid2, n)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    found: set[str] = set()
    real = i18n.translations
    monkeypatch.setattr(i18n, "translations", lambda locale: _Recording(real(locale), found))
    return found


@pytest.fixture
def demo(db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "media_dir", tmp_path / "media")
    with session_scope() as session:
        seed(session)


def untranslated(asked: set[str]) -> set[str]:
    """Asked-for English text with no Indonesian msgstr (names excepted)."""
    with (PROJECT_ROOT / "locale/id/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    missing = set()
    for msgid in asked:
        if not msgid.strip() or msgid in NAMES or not re.search("[a-z]", msgid):
            continue
        if not _PLACEHOLDER.sub("", msgid).strip():
            continue
        entry = catalog.get(msgid)
        if entry is None or not entry.string:
            missing.add(msgid)
    return missing


def _staff_pages(session: Session) -> list[str]:
    campaign = session.exec(select(Campaign).order_by(col(Campaign.id))).all()
    posts = session.exec(select(Post).order_by(col(Post.id))).all()
    asn = session.exec(select(Asn).order_by(col(Asn.id))).first()
    assert asn is not None
    pages = [
        "/console",
        "/console/campaigns",
        "/console/campaigns/new",
        "/console/approvals",
        "/console/messages",
        "/console/channels",
        "/console/asn",
        f"/console/asn/{asn.id}",
        "/console/invitations",
        "/console/roster/upload",
        "/console/staff",
        "/console/agency",
        "/console/audit",
        "/console/account",
        "/console/tokens",
        "/console/webhooks",
        "/console/networks",
        "/console/offers",
        "/dashboard",
        "/dashboard/leaderboard",
    ]
    for c in campaign:
        pages += [
            f"/console/campaigns/{c.id}",
            f"/console/campaigns/{c.id}/messages",
            f"/console/campaigns/{c.id}/assignments",
            f"/console/campaigns/{c.id}/feedback",
            f"/dashboard/campaigns/{c.id}",
            f"/dashboard/campaigns/{c.id}/network",
        ]
    offers = session.exec(select(CampaignOffer).order_by(col(CampaignOffer.id))).all()
    pages += [f"/console/offers/{o.id}" for o in offers]
    for p in posts:
        pages += [f"/console/posts/{p.id}", f"/console/posts/{p.id}/audit"]
    return pages


@pytest.mark.slow
def test_every_page_in_indonesian_asks_only_for_translated_msgids(
    client: TestClient,
    session: Session,
    demo: None,
    asked: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing: dict[str, int] = {}
    invitation = session.exec(select(Invitation)).first()
    assert invitation is not None
    for path in ("/login", "/registry", f"/enrol/{invitation.token}"):
        if client.get(path).status_code >= 500:
            failing[path] = 500
    # Kominfo's admin (the instance operator, as `make demo` sets it), then a network
    # member's approver: each sees its own agency's pages (the others answer 404).
    admin = session.exec(select(User).where(User.email == "admin@kominfo.go.id")).one()
    monkeypatch.setattr(get_settings().auth, "operators", [admin.email])
    member = session.exec(select(User).where(User.email == "approver@jatimprov.go.id")).one()
    seen: dict[str, int] = {}
    for person in (admin, member):
        login_staff(client, person, DEMO_PASSWORD)
        for path in _staff_pages(session):
            status = client.get(path).status_code
            seen[path] = min(seen.get(path, status), status)
            if status >= 500:
                failing[path] = status
        client.cookies.clear()
    assert seen["/console/networks"] == 200
    assert seen["/console/offers"] == 200
    assert any(seen[p] == 200 for p in seen if p.endswith("/network"))  # the coordinator's
    # East Java's two offers (the Ministry of Health's are its own: 404 to both readers)
    assert sum(seen[p] == 200 for p in seen if p.startswith("/console/offers/")) == 2
    reporter = session.exec(
        select(Asn)
        .join(Assignment, col(Assignment.asn_id) == col(Asn.id))
        .where(Asn.status == AsnStatus.ACTIVE, Assignment.reported_at.is_not(None))  # type: ignore[union-attr]
    ).first()
    assert reporter is not None
    login_asn(client, reporter)
    assignment = session.exec(select(Assignment).where(Assignment.asn_id == reporter.id)).first()
    assert assignment is not None
    account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == reporter.id)).first()
    assert account is not None
    for path in (
        "/inbox",
        f"/inbox/{assignment.id}",
        "/inbox/settings",
        "/inbox/privacy",
        "/inbox/accounts",
        "/inbox/leaderboard",
        f"/registry/{account.platform}/{account.handle}",
    ):
        status = client.get(path).status_code
        if status >= 500:
            failing[path] = status

    assert not failing, failing
    assert len(asked) > 300  # the pages really were rendered through the catalog
    missing = untranslated(asked)
    assert not missing, f"English shown on Indonesian pages (add to messages.po): {missing}"


def test_the_check_catches_english_without_a_catalog_entry() -> None:
    assert untranslated({"Campaigns", "Telegram", "%(count)s"}) == set()
    assert untranslated({"A sentence nobody translated."}) == {"A sentence nobody translated."}
