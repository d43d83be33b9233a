"""Who a tracking-link visit is: a click, a bot's fetch (tallied apart), staff (nothing).

Every test here runs on SQLite and PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assignments.models import Assignment, BotFetch, Click
from assignments.tracking import Target, clicker_hash, is_bot, visitor_counts
from content.models import Campaign, PostStatus
from gaung.settings import get_settings
from roster.models import Agency, Role
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from tests.web.conftest import login_asn, login_staff
from web import tracking

POST_LINK = "https://www.kominfo.go.id/berita/umkm-digital"
PHONE = (
    "Mozilla/5.0 (Linux; Android 13; SM-A536E) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/440.0]"
)
PREVIEW_BOTS = [
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "WhatsApp/2.23.20.0 A",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "TelegramBot (like TwitterBot)",
]


def _assignment(session: Session) -> Assignment:
    agency = make_agency(session)
    author = make_user(session, agency)
    post = make_post(
        session,
        make_campaign(session, agency),
        author,
        status=PostStatus.DISPATCHED,
        link=POST_LINK,
    )
    return make_assignment(session, post, make_asn(session, make_unit(session, agency)), "x")


def _clicks(session: Session) -> list[Click]:
    tracking.clicks.flush()
    session.expire_all()
    return list(session.exec(select(Click)))


def _bot_fetches(session: Session) -> int:
    tracking.clicks.flush()
    return int(session.exec(select(func.coalesce(func.sum(BotFetch.fetches), 0))).one())


def _counts(session: Session, campaign_id: int) -> tuple[int, int]:
    tracking.clicks.flush()
    return visitor_counts(session.connection(), campaign_id)


def _visit(client: TestClient, code: str, agent: str, **headers: str) -> None:
    response = client.get(
        f"/r/{code}", headers={"User-Agent": agent, **headers}, follow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["location"] == POST_LINK


@pytest.mark.parametrize("agent", PREVIEW_BOTS)
def test_a_link_preview_fetch_is_redirected_and_tallied_but_is_no_click(
    client: TestClient, session: Session, agent: str
) -> None:
    assignment = _assignment(session)

    _visit(client, assignment.code, agent)  # a cache miss: the target is read
    _visit(client, assignment.code, agent)  # a hit: the fast path

    assert _clicks(session) == []
    rows = list(session.exec(select(BotFetch)))
    assert [(r.assignment_id, r.campaign_id, r.fetches) for r in rows] == [
        (assignment.id, assignment.campaign_id, 2)
    ]
    assert _counts(session, assignment.campaign_id) == (0, 2)


def test_bot_verdicts_are_cached_per_user_agent() -> None:
    agent = "Twitterbot/1.0 (cache test)"
    assert is_bot(agent)
    before = is_bot.cache_info().hits
    assert is_bot(agent)
    assert is_bot.cache_info().hits == before + 1
    assert not is_bot(PHONE)
    assert not is_bot("")  # no user agent: not a known bot


def test_a_click_by_signed_in_staff_counts_nothing(client: TestClient, session: Session) -> None:
    assignment = _assignment(session)
    login_staff(client, make_user(session, make_agency(session)))

    _visit(client, assignment.code, PHONE)
    _visit(client, assignment.code, PREVIEW_BOTS[0])

    assert _clicks(session) == []
    assert _bot_fetches(session) == 0


def test_a_forged_or_asn_session_cookie_is_a_click(client: TestClient, session: Session) -> None:
    assignment = _assignment(session)
    _visit(client, assignment.code, PHONE, Cookie="gaung_session=eyJ1aWQiOiAxfQ==.forged.sig")
    login_asn(client, make_asn(session, make_unit(session, make_agency(session))))
    _visit(client, assignment.code, PHONE)

    assert len(_clicks(session)) == 2


def test_unique_clickers_per_address_and_user_agent(client: TestClient, session: Session) -> None:
    assignment = _assignment(session)

    _visit(client, assignment.code, PHONE)
    _visit(client, assignment.code, PHONE)
    assert _counts(session, assignment.campaign_id) == (1, 0)
    _visit(client, assignment.code, IPHONE)

    assert len(_clicks(session)) == 3
    assert _counts(session, assignment.campaign_id) == (2, 0)


def test_unique_clickers_behind_a_trusted_proxy_are_told_apart(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    assignment = _assignment(session)
    target = Target(POST_LINK, assignment.id or 0, assignment.campaign_id)
    monkeypatch.setattr(get_settings().auth, "trusted_proxies", ["10.0.0.0/8"])

    tracking.count_visit(target, None, PHONE, None, "10.0.0.1", "203.0.113.5")
    tracking.count_visit(target, None, PHONE, None, "10.0.0.2", "203.0.113.5")
    tracking.count_visit(target, None, PHONE, None, "10.0.0.1", "203.0.113.6")
    # Not a proxy of ours: its X-Forwarded-For is not believed.
    tracking.count_visit(target, None, PHONE, None, "198.51.100.7", "203.0.113.5")
    tracking.count_visit(target, None, PHONE, None, "198.51.100.7", "203.0.113.9")

    assert len(_clicks(session)) == 5
    assert _counts(session, assignment.campaign_id) == (3, 0)


def test_the_stored_hash_is_not_the_address_and_changes_with_the_day(
    db: Engine, session: Session
) -> None:
    assignment = _assignment(session)
    target = Target(POST_LINK, assignment.id or 0, assignment.campaign_id)
    address = "203.0.113.5"

    tracking.count_visit(target, "https://t.co/x", PHONE, None, address, "")

    (click,) = _clicks(session)
    assert isinstance(click.clicker, int)
    assert address not in repr(click.model_dump())
    assert click.clicker == clicker_hash(address, PHONE, click.at.timestamp())
    day = 86_400
    assert clicker_hash(address, PHONE, 0) == clicker_hash(address, PHONE, day - 1)
    assert clicker_hash(address, PHONE, 0) != clicker_hash(address, PHONE, day)
    assert clicker_hash(address, PHONE, 0) != clicker_hash(address, IPHONE, 0)


def test_head_is_answered_like_get_and_not_counted(client: TestClient, session: Session) -> None:
    assignment = _assignment(session)
    get = client.get(f"/r/{assignment.code}", follow_redirects=False)  # warms the cache
    tracking.clicks.flush()

    head = client.head(f"/r/{assignment.code}", follow_redirects=False)
    missing = client.head("/r/not-a-real-code", follow_redirects=False)

    assert (head.status_code, head.headers["location"]) == (302, POST_LINK)
    assert head.headers["location"] == get.headers["location"]
    assert missing.status_code == 404
    assert len(_clicks(session)) == 1  # the GET's only


def test_head_on_the_route_alone_is_not_counted(db: Engine, session: Session) -> None:
    assignment = _assignment(session)
    bare = FastAPI(lifespan=tracking.lifespan)
    bare.include_router(tracking.router)

    with TestClient(bare) as web:
        response = web.head(f"/r/{assignment.code}", follow_redirects=False)
        bot = web.get(
            f"/r/{assignment.code}",
            headers={"User-Agent": "Twitterbot/1.0"},
            follow_redirects=False,
        )

    assert (response.status_code, response.headers["location"]) == (302, POST_LINK)
    assert bot.status_code == 302
    assert _clicks(session) == []
    assert _bot_fetches(session) == 1


def test_the_dashboard_and_the_api_show_unique_clickers_and_bot_fetches(
    client: TestClient, session: Session
) -> None:
    assignment = _assignment(session)
    target = Target(POST_LINK, assignment.id or 0, assignment.campaign_id)
    for agent in (PHONE, PHONE, IPHONE, PREVIEW_BOTS[1]):
        tracking.count_visit(target, None, agent, None, "203.0.113.5", "")
    tracking.clicks.flush()
    campaign = session.get_one(Campaign, assignment.campaign_id)
    login_staff(
        client, make_user(session, session.get_one(Agency, campaign.agency_id), Role.SUPERVISOR)
    )

    reach = client.get(f"/api/campaigns/{campaign.id}/reach").json()
    page = client.get(f"/dashboard/campaigns/{campaign.id}").text

    assert (reach["total"]["clicks"], reach["unique_clickers"], reach["bot_fetches"]) == (3, 2, 1)
    assert "Pengeklik unik<strong>2</strong>" in page
    assert "Pengambilan oleh bot<strong>1</strong>" in page
