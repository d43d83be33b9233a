"""Follower refresh: the daily batch job and one account on demand, faked at the edge."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import respx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.metrics import ApiUsage
from channels.graph import GraphClient
from channels.instagram import InstagramPlatform
from channels.platforms import SocialPlatform
from channels.x import XPlatform
from gaung.db import utcnow
from kernel import recurring
from kernel.models import WorkItem
from kernel.queue import RetryLater
from roster.eligibility import eligible_accounts
from roster.models import Asn, AsnStatus, SocialAccount
from scheduler.followers import next_refresh, refresh_account, refresh_all
from tests.channels import fakes_x
from tests.channels.fakes_x import FakeX
from tests.factories import make_agency, make_asn, make_unit

RESET = 1_767_225_600  # 2026-01-01T00:00:00Z
LONG_AGO = datetime(2026, 1, 5, tzinfo=UTC)
GRAPH = "https://graph.test"


def _offline() -> dict[str, SocialPlatform]:
    return {"instagram": InstagramPlatform(None, "")}


def _roster(session: Session, count: int, platform: str = "x") -> list[SocialAccount]:
    """``count`` active ASN, each with one account counted long ago (bulk, for speed)."""
    agency = make_agency(session)
    unit = make_unit(session, agency)
    people = [
        Asn(agency_id=agency.id or 0, unit_id=unit.id or 0, name=f"ASN {n}", status="active")
        for n in range(count)
    ]
    session.add_all(people)
    session.flush()
    accounts = [
        SocialAccount(
            asn_id=asn.id or 0,
            platform=platform,
            platform_user_id=str(7000 + n),
            handle=f"asn{n}",
            followers=100,
            followers_at=LONG_AGO,
            ownership_verified_at=LONG_AGO,
        )
        for n, asn in enumerate(people)
    ]
    session.add_all(accounts)
    session.commit()
    return accounts


def _ids(accounts: list[SocialAccount]) -> list[str]:
    ids = [a.platform_user_id for a in accounts]
    assert all(ids)
    return [i or "" for i in ids]


def _on_x(fake_x: FakeX, ids: list[str], followers: int = 2500) -> None:
    fake_x.sign_up(*(fakes_x.user(i, f"user{i}", followers) for i in ids))


def _fresh(session: Session) -> list[SocialAccount]:
    session.expire_all()
    return list(session.exec(select(SocialAccount).order_by(col(SocialAccount.id))))


def _calls(session: Session, purpose: str = "followers") -> int:
    rows = session.exec(select(ApiUsage).where(ApiUsage.purpose == purpose)).all()
    return sum(r.calls for r in rows)


def test_daily_refresh_looks_up_100_x_accounts_per_call(
    db: Engine, session: Session, x: XPlatform, fake_x: FakeX
) -> None:
    ids = _ids(_roster(session, 105))
    _on_x(fake_x, ids[:100])
    _on_x(fake_x, ids[100:], followers=9000)

    results = refresh_all(db, since=utcnow() - timedelta(hours=1), platforms={"x": x, **_offline()})

    assert (results["x"].accounts, results["x"].updated, results["x"].api_calls) == (105, 105, 2)
    assert fake_x.params(0)["ids"].split(",") == ids[:100]
    assert fake_x.params(1)["ids"].split(",") == ids[100:]
    assert "public_metrics" in fake_x.params(0)["user.fields"]
    fresh = _fresh(session)
    assert {a.followers for a in fresh[:100]} == {2500}
    assert {a.followers for a in fresh[100:]} == {9000}
    assert all(a.followers_at and a.followers_at > LONG_AGO for a in fresh)
    assert _calls(session) == 2
    assert "instagram" not in results  # not connected: skipped, nothing crashes


def test_a_suspended_account_keeps_its_last_count_and_date(
    db: Engine, session: Session, x: XPlatform, fake_x: FakeX
) -> None:
    kept, _gone = _ids(_roster(session, 2))
    _on_x(fake_x, [kept])  # the other one is suspended: X answers with an error for it

    results = refresh_all(db, since=utcnow() - timedelta(hours=1), platforms={"x": x, **_offline()})

    assert (results["x"].updated, results["x"].missing) == (1, 1)
    fresh = _fresh(session)
    assert (fresh[1].followers, fresh[1].followers_at) == (100, LONG_AGO)


def test_a_rate_limit_keeps_finished_batches_and_the_retry_carries_on(
    db: Engine, session: Session, x: XPlatform, fake_x: FakeX
) -> None:
    ids = _ids(_roster(session, 101))
    _on_x(fake_x, ids[:100])
    _on_x(fake_x, ids[100:], followers=42)
    fake_x.limit(fakes_x.USERS, 1, reset=RESET)
    since = utcnow() - timedelta(hours=1)

    with pytest.raises(RetryLater) as caught:
        refresh_all(db, since=since, platforms={"x": x, **_offline()})

    assert caught.value.at == datetime(2026, 1, 1, tzinfo=UTC)
    assert sum(a.followers == 2500 for a in _fresh(session)) == 100
    assert _calls(session) == 2
    fake_x.new_window()

    refresh_all(db, since=since, platforms={"x": x, **_offline()})  # the retry at the reset time

    assert fake_x.params(2)["ids"] == ids[100]  # only the account still stale
    assert _fresh(session)[100].followers == 42


def test_accounts_counted_since_the_period_began_cost_nothing(
    db: Engine, session: Session, x: XPlatform, fake_x: FakeX
) -> None:
    _roster(session, 3)

    results = refresh_all(db, since=LONG_AGO - timedelta(days=1), platforms={"x": x, **_offline()})

    assert results["x"].api_calls == 0
    assert fake_x.requests == []


def test_people_who_left_are_not_looked_up(
    db: Engine, session: Session, x: XPlatform, fake_x: FakeX
) -> None:
    accounts = _roster(session, 2)
    leaver = session.get_one(Asn, accounts[0].asn_id)
    leaver.status = AsnStatus.LEFT
    session.add(leaver)
    session.commit()
    _on_x(fake_x, _ids(accounts))

    refresh_all(db, since=utcnow(), platforms={"x": x, **_offline()})

    assert fake_x.params(0)["ids"] == accounts[1].platform_user_id


def test_the_daily_refresh_is_queued_once_per_day_across_processes(
    db: Engine, session: Session
) -> None:

    moment = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    recurring._enqueued.clear()
    recurring.enqueue_due(db, moment)
    recurring._enqueued.clear()  # a second worker process has its own memory
    recurring.enqueue_due(db, moment + timedelta(minutes=5))

    items = session.exec(select(WorkItem).where(WorkItem.kind == "followers")).all()
    assert [i.key for i in items] == ["followers@2026-11-23T19:00:00+00:00"]
    recurring._enqueued.clear()


def test_a_refreshed_count_makes_an_account_eligible(
    db: Engine, session: Session, x: XPlatform, fake_x: FakeX
) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    asn = make_asn(session, unit, followers=300, platforms=["x"])
    account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).one()
    account.platform_user_id = "4242"
    session.add(account)
    session.commit()
    assert account.id is not None
    before = eligible_accounts(session, agency_id=agency.id or 0, unit_ids=[], platform="x")
    _on_x(fake_x, ["4242"], followers=800)

    refresh_account(db, account.id, platforms={"x": x})

    after = eligible_accounts(session, agency_id=agency.id or 0, unit_ids=[], platform="x")
    assert (before, [row[2] for row in after]) == ([], [account.id])


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=GRAPH, assert_all_called=False) as router:
        yield router


def test_an_instagram_account_is_refreshed_through_business_discovery(
    db: Engine, session: Session, graph: respx.MockRouter
) -> None:
    [account] = _roster(session, 1, platform="instagram")
    graph.get("/v24.0/1784").respond(
        json={"business_discovery": {"id": "7000", "username": "asn0", "followers_count": 3456}}
    )
    instagram = InstagramPlatform(GraphClient("v24.0", "EAAB-token", "", GRAPH), "1784")
    assert account.id is not None

    result = refresh_account(db, account.id, platforms={"instagram": instagram})

    assert (result.updated, result.api_calls) == (1, 1)
    assert _fresh(session)[0].followers == 3456


def test_a_personal_instagram_account_keeps_its_count(
    db: Engine, session: Session, graph: respx.MockRouter
) -> None:
    [account] = _roster(session, 1, platform="instagram")
    error = {"message": "Invalid user id", "type": "OAuthException", "code": 110}
    graph.get("/v24.0/1784").respond(400, json={"error": error})
    instagram = InstagramPlatform(GraphClient("v24.0", "EAAB-token", "", GRAPH), "1784")
    assert account.id is not None

    result = refresh_account(db, account.id, platforms={"instagram": instagram})

    assert (result.updated, result.missing) == (0, 1)
    assert _fresh(session)[0].followers == 100


def test_unknown_account_and_unconnected_platform_do_nothing(db: Engine, session: Session) -> None:
    [account] = _roster(session, 1)
    assert account.id is not None

    assert refresh_account(db, 999_999).accounts == 0
    assert refresh_account(db, account.id).accounts == 0  # no X token in the test settings


def test_the_next_refresh_is_the_next_19_utc() -> None:
    day = datetime(2026, 12, 5, tzinfo=UTC)
    assert next_refresh(day.replace(hour=18, minute=59)) == day.replace(hour=19)
    assert next_refresh(day.replace(hour=19)) == day.replace(day=6, hour=19)  # it just began
    assert next_refresh(day.replace(hour=23, minute=30)) == day.replace(day=6, hour=19)
    new_year = datetime(2027, 1, 1, 19, tzinfo=UTC)
    assert next_refresh(day.replace(day=31, hour=20)) == new_year
