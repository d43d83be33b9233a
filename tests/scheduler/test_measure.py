"""Metrics at 1 h, 24 h and 72 h on the real database, platforms faked at the network edge.

X through the fake X API v2 (tests/channels/fakes_x.py) behind tweepy; Facebook and Instagram
Graph calls through respx with documented insights shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.evidence import Evidence
from assignments.metrics import ApiUsage, PostMetrics, RepostMetrics
from assignments.models import Assignment, AssignmentStatus
from assignments.reach import campaign_reach
from channels.facebook import FacebookPlatform
from channels.graph import GraphClient
from channels.instagram import InstagramPlatform
from channels.platforms import SocialPlatform
from channels.x import XPlatform
from content.models import Post, PostStatus
from gaung.db import utcnow
from kernel import jobs
from kernel.models import WorkItem
from kernel.queue import RetryLater
from roster.models import SocialAccount
from scheduler.dispatch import dispatch_post
from scheduler.measure import SLOT, measure_post
from scheduler.verify import verify_post
from tests.channels import fakes_x
from tests.channels.fakes_x import FakeX
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

OFFICIAL = "1895000000000000001"
RESET = 1_767_225_600  # 2026-01-01T00:00:00Z
GRAPH = "https://graph.test"
PAGE = "1122334455"


@dataclass
class World:
    post: Post
    ani: Assignment
    budi: Assignment


def _verified(
    session: Session, task: Assignment, tweet_id: str, ago: timedelta, followers: int = 2000
) -> Assignment:
    task.status = AssignmentStatus.VERIFIED
    task.repost_key, task.repost_url = f"x:{tweet_id}", f"https://x.com/a/status/{tweet_id}"
    task.reported_at = task.verified_at = utcnow() - ago
    task.followers_at_report = followers
    session.add(task)
    session.commit()
    return task


@pytest.fixture
def world(session: Session) -> World:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency, editor), editor)
    post.platforms, post.status = "x", PostStatus.DISPATCHED
    post.official_url_x = f"https://x.com/kominfo/status/{OFFICIAL}"
    post.dispatched_at = utcnow() - timedelta(minutes=100)
    session.add(post)
    session.commit()
    ani, budi = (make_asn(session, unit, platforms=["x"]) for _ in range(2))
    return World(post, make_assignment(session, post, ani), make_assignment(session, post, budi))


def _rows(session: Session) -> list[RepostMetrics]:
    session.expire_all()
    return list(session.exec(select(RepostMetrics).order_by(col(RepostMetrics.assignment_id))))


def _usage(session: Session) -> int:
    return sum(u.calls for u in session.exec(select(ApiUsage)))


def test_due_reposts_are_measured_in_one_call_and_the_official_post_in_another(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    _verified(session, world.ani, "905", timedelta(minutes=70))
    _verified(session, world.budi, "906", timedelta(minutes=65))
    fake_x.post(
        fakes_x.tweet(OFFICIAL, "1", impressions=9000, likes=300),
        fakes_x.quote("905", "101", "Mantap", OFFICIAL, impressions=800, likes=12, replies=3),
        fakes_x.quote("906", "102", "Setuju", OFFICIAL, impressions=0, likes=0),
    )
    assert world.post.id is not None

    result = measure_post(db, world.post.id, "1h", platforms={"x": x})

    assert (result.api_calls, result.reposts, result.official) == (2, 2, 1)
    assert fake_x.params(0)["ids"] == OFFICIAL
    assert fake_x.params(1)["ids"].split(",") == ["905", "906"]
    rows = _rows(session)
    assert [(r.window, r.platform_post_id, r.impressions, r.likes, r.replies) for r in rows] == [
        ("1h", "905", 800, 12, 3),
        ("1h", "906", 0, 0, 0),  # zero is a measured zero, not "not returned"
    ]
    official = session.exec(select(PostMetrics)).one()
    assert (official.platform, official.window, official.impressions) == ("x", "1h", 9000)
    assert _usage(session) == 2
    reach = campaign_reach(session, world.post.campaign_id)
    assert (reach.total.measured, reach.total.impressions, reach.total.engagement) == (2, 800, 15)
    assert reach.api_calls["x"].metrics == 2
    assert reach.official["x"].impressions == 9000


def test_a_second_run_of_the_window_costs_nothing(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    _verified(session, world.ani, "905", timedelta(minutes=70))
    fake_x.post(fakes_x.tweet(OFFICIAL, "1"), fakes_x.tweet("905", "101", likes=1))
    assert world.post.id is not None

    measure_post(db, world.post.id, "1h", platforms={"x": x})
    again = measure_post(db, world.post.id, "1h", platforms={"x": x})

    assert (again.api_calls, again.reposts, again.official) == (0, 0, 0)
    assert len(fake_x.requests) == 2


def test_reposts_not_yet_due_or_long_past_their_window_are_left_alone(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    _verified(session, world.ani, "905", timedelta(minutes=30))  # the 1 h mark is still ahead
    _verified(session, world.budi, "906", timedelta(hours=5))  # a "1 h" figure now would lie
    world.post.dispatched_at = utcnow() - timedelta(minutes=10)
    session.add(world.post)
    session.commit()
    assert world.post.id is not None

    result = measure_post(db, world.post.id, "1h", platforms={"x": x})

    assert result.api_calls == 0
    assert fake_x.requests == []


def test_a_plain_retweet_has_no_counts_of_its_own(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    _verified(session, world.ani, "905", timedelta(hours=25))
    world.post.official_url_x = None
    session.add(world.post)
    session.commit()
    # X puts the retweeted post's counts on a retweet: they must not be summed as the ASN's.
    official = fakes_x.tweet(OFFICIAL, "1", impressions=90_000, likes=700, retweets=5000)
    fake_x.post(official, fakes_x.retweet("905", "101", official, "kominfo"))
    assert world.post.id is not None

    measure_post(db, world.post.id, "24h", platforms={"x": x})

    [row] = _rows(session)
    assert (row.window, row.impressions, row.likes, row.reposts, row.replies) == (
        "24h",
        None,
        None,
        None,
        None,
    )
    reach = campaign_reach(session, world.post.campaign_id)
    assert (reach.total.measured, reach.total.impressions, reach.total.engagement) == (
        1,
        None,
        None,
    )


def test_a_repost_deleted_after_verification_is_flagged_with_evidence(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    _verified(session, world.ani, "905", timedelta(hours=25))
    _verified(session, world.budi, "906", timedelta(hours=25))
    world.post.official_url_x = None
    session.add(world.post)
    session.commit()
    fake_x.post(fakes_x.tweet("905", "101", likes=4), fakes_x.tweet("906", "102", likes=9))
    fake_x.delete("906")
    assert world.post.id is not None

    result = measure_post(db, world.post.id, "24h", platforms={"x": x})

    assert result.gone == [world.budi.id]
    session.expire_all()
    budi = session.get_one(Assignment, world.budi.id)
    assert budi.status == AssignmentStatus.VERIFIED  # it did happen; its reach was real
    assert budi.flagged_gone_at is not None
    evidence = session.exec(select(Evidence).where(Evidence.assignment_id == budi.id)).one()
    assert (evidence.outcome, evidence.reason, evidence.platform_post_id) == (
        "gone",
        "deleted",
        "906",
    )
    assert [r.likes for r in _rows(session)] == [4, None]
    assert campaign_reach(session, world.post.campaign_id).total.deleted_after_verification == 1


def test_a_rate_limit_retries_at_the_reset_time_and_the_call_is_counted(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    _verified(session, world.ani, "905", timedelta(minutes=70))
    fake_x.post(fakes_x.tweet(OFFICIAL, "1", impressions=10), fakes_x.tweet("905", "101"))
    fake_x.limit(fakes_x.TWEETS, 1, reset=RESET)  # the official post's call, then 429
    assert world.post.id is not None

    with pytest.raises(RetryLater) as caught:
        measure_post(db, world.post.id, "1h", platforms={"x": x})

    assert caught.value.at == datetime(2026, 1, 1, tzinfo=UTC)
    assert _rows(session) == []
    assert len(session.exec(select(PostMetrics)).all()) == 1  # kept: it committed before
    assert _usage(session) == 2


def test_verification_queues_the_three_windows_once_per_slot(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    for asn_id, user_id in ((world.ani.asn_id, "101"), (world.budi.asn_id, "102")):
        account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn_id)).one()
        account.platform_user_id = user_id
        session.add(account)
    session.commit()
    posted = (utcnow() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    official = fakes_x.tweet(OFFICIAL, "1")
    fake_x.post(
        official,
        fakes_x.retweet("905", "101", official, "kominfo", created_at=posted),
        fakes_x.retweet("906", "102", official, "kominfo", created_at=posted),
    )
    fake_x.sign_up(fakes_x.user("101", "ani"), fakes_x.user("102", "budi"))
    assert world.post.id is not None

    verify_post(db, world.post.id, 0, platform=x)

    items = session.exec(select(WorkItem).where(WorkItem.kind == "measure")).all()
    assert sorted(i.payload for i in items) == sorted(
        f'{{"post_id": {world.post.id}, "window": "{w}"}}' for w in ("1h", "24h", "72h")
    )
    repost_time = datetime.strptime(posted, "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC)
    one_hour = min(i.run_at for i in items)
    assert repost_time + timedelta(hours=1) <= one_hour <= repost_time + timedelta(hours=1) + SLOT


def test_dispatch_queues_the_official_posts_measurements(session: Session, db: Engine) -> None:

    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    post = make_post(
        session, make_campaign(session, agency, editor), editor, status=PostStatus.APPROVED
    )
    post.official_url_x = f"https://x.com/kominfo/status/{OFFICIAL}"
    session.add(post)
    session.commit()
    make_asn(session, unit)
    assert post.id is not None

    dispatch_post(db, post.id)

    items = session.exec(select(WorkItem).where(WorkItem.kind == "measure")).all()
    assert len(items) == 3
    assert all(i.run_at > utcnow() + timedelta(minutes=59) for i in items)


def test_the_worker_runs_a_measure_item_without_credentials(
    db: Engine, session: Session, world: World
) -> None:
    _verified(session, world.ani, "905", timedelta(minutes=70))
    from scheduler import measure

    assert world.post.id is not None
    measure.schedule_reposts(session, [world.ani])
    session.commit()
    item = session.exec(select(WorkItem).where(WorkItem.kind == "measure")).first()
    assert item is not None
    item.run_at = utcnow() - timedelta(seconds=1)
    session.add(item)
    session.commit()

    jobs.run_due(db, "test-worker", limit=1)  # X is not connected in tests: nothing measured

    session.expire_all()
    assert session.get_one(WorkItem, item.id).status == "done"
    assert _rows(session) == []


# --- Facebook and Instagram official posts ----------------------------------------------------


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=GRAPH, assert_all_called=False) as router:
        yield router


def _client() -> GraphClient:
    return GraphClient("v24.0", "EAAB-page-token", "", GRAPH)


def _graph_post(session: Session, world: World, platform: str, url: str) -> Post:
    world.post.platforms = platform
    setattr(world.post, f"official_url_{platform}", url)
    world.post.dispatched_at = utcnow() - timedelta(hours=25)
    session.add(world.post)
    session.commit()
    return world.post


def _insights(metric: str, value: int) -> dict[str, Any]:
    item = {"name": metric, "period": "lifetime", "values": [{"value": value}]}
    return {"data": [{**item, "id": f"x/insights/{metric}/lifetime"}]}


def test_facebook_page_post_counts_and_views_are_stored(
    db: Engine, session: Session, world: World, graph: respx.MockRouter
) -> None:
    post = _graph_post(session, world, "facebook", f"https://www.facebook.com/{PAGE}/posts/42")
    graph.get(f"/v24.0/{PAGE}_42").respond(
        json={
            "id": f"{PAGE}_42",
            "shares": {"count": 7},
            "reactions": {"data": [], "summary": {"total_count": 120}},
            "comments": {"data": [], "summary": {"total_count": 15}},
        }
    )
    graph.get(f"/v24.0/{PAGE}_42/insights").respond(json=_insights("post_media_view", 5300))
    platforms: dict[str, SocialPlatform] = {"facebook": FacebookPlatform(_client())}
    assert post.id is not None

    result = measure_post(db, post.id, "24h", platforms=platforms)

    assert (result.official, result.api_calls) == (1, 2)
    row = session.exec(select(PostMetrics)).one()
    assert (row.platform_post_id, row.impressions, row.likes, row.reposts, row.replies) == (
        f"{PAGE}_42",
        5300,
        120,
        7,
        15,
    )
    assert _usage(session) == 2


def test_an_expired_graph_token_skips_the_post_without_failing_the_job(
    db: Engine, session: Session, world: World, graph: respx.MockRouter
) -> None:
    post = _graph_post(session, world, "facebook", f"https://www.facebook.com/{PAGE}/posts/42")
    error = {"message": "Session has expired", "type": "OAuthException", "code": 190}
    graph.get(f"/v24.0/{PAGE}_42").respond(400, json={"error": {**error, "error_subcode": 463}})
    platforms: dict[str, SocialPlatform] = {"facebook": FacebookPlatform(_client())}
    assert post.id is not None

    result = measure_post(db, post.id, "24h", platforms=platforms)

    assert result.official == 0
    assert session.exec(select(PostMetrics)).all() == []
    assert _usage(session) == 1  # the refused call was still made


def test_instagram_own_media_views_and_shares_are_stored(
    db: Engine, session: Session, world: World, graph: respx.MockRouter
) -> None:
    post = _graph_post(session, world, "instagram", "17900000000000001")

    def insight(request: httpx.Request) -> httpx.Response:
        metric = request.url.params["metric"]
        return httpx.Response(200, json=_insights(metric, {"views": 3100, "shares": 12}[metric]))

    graph.get("/v24.0/17900000000000001").respond(
        json={"id": "17900000000000001", "like_count": 210, "comments_count": 9}
    )
    graph.get("/v24.0/17900000000000001/insights").mock(side_effect=insight)
    platforms: dict[str, SocialPlatform] = {"instagram": InstagramPlatform(_client(), "1784")}
    assert post.id is not None

    measure_post(db, post.id, "24h", platforms=platforms)

    row = session.exec(select(PostMetrics)).one()
    assert (row.impressions, row.likes, row.reposts, row.replies) == (3100, 210, 12, 9)


def test_reach_shows_not_returned_when_no_platform_measured(session: Session, world: World) -> None:
    _verified(session, world.ani, "905", timedelta(minutes=70))

    reach = campaign_reach(session, world.post.campaign_id)

    assert (reach.total.measured, reach.total.impressions, reach.total.engagement) == (
        0,
        None,
        None,
    )
    assert reach.official == {}
