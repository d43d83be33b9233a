"""Verification jobs on the real database, with X's API faked at the requests edge.

X is the fake X API v2 (tests/channels/fakes_x.py) behind tweepy; oEmbed is faked with respx.
The jobs get an XPlatform on the fake; the end-to-end test builds it from settings (no token,
so oEmbed) exactly as a worker does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.evidence import Evidence, VerifyCursor
from assignments.models import Assignment, AssignmentStatus
from assignments.reporting import report_repost
from channels.x import OEMBED_URL, XPlatform
from content.models import Post, PostStatus
from gaung.db import utcnow
from kernel import jobs
from kernel.models import WorkItem
from kernel.queue import RetryLater
from roster.models import Asn, SocialAccount
from scheduler.dispatch import dispatch_post
from scheduler.verify import post_round_key, verify_link, verify_post
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
OFFICIAL_URL = f"https://x.com/kominfo/status/{OFFICIAL}"
RESET = 1_767_225_600  # 2026-01-01T00:00:00Z
LANDING = "https://www.kominfo.go.id/umkm"  # where the campaign's tracking links redirect to


@dataclass
class World:
    post: Post
    ani: Asn
    budi: Asn
    ani_task: Assignment
    budi_task: Assignment


def _x_account(session: Session, asn: Asn, user_id: str, handle: str) -> None:
    account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).one()
    account.platform_user_id, account.handle, account.followers = user_id, handle, 2500
    session.add(account)
    session.commit()


@pytest.fixture
def world(session: Session) -> World:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency, editor), editor)
    post.official_url_x, post.platforms, post.hashtags = OFFICIAL_URL, "x", "UMKMGoDigital"
    session.add(post)
    session.commit()
    ani, budi = (make_asn(session, unit, platforms=["x"]) for _ in range(2))
    _x_account(session, ani, "101", "ani_asn")
    _x_account(session, budi, "102", "budi_asn")
    return World(
        post, ani, budi, make_assignment(session, post, ani), make_assignment(session, post, budi)
    )


OFFICIAL_POST = fakes_x.tweet(OFFICIAL, "1", "Info #UMKMGoDigital https://www.kominfo.go.id/umkm")


def _retweet(tweet_id: str, author: str) -> dict[str, Any]:
    return fakes_x.retweet(tweet_id, author, OFFICIAL_POST, "kominfo")


def _fresh(session: Session, assignment: Assignment) -> Assignment:
    session.expire_all()
    return session.get_one(Assignment, assignment.id)


def _evidence(session: Session, assignment: Assignment) -> list[Evidence]:
    query = select(Evidence).where(Evidence.assignment_id == assignment.id)
    query = query.order_by(col(Evidence.id))
    return list(session.exec(query))


def _cursor(session: Session, post: Post) -> VerifyCursor:
    session.expire_all()
    return session.get_one(VerifyCursor, (post.id, "x"))


def test_search_verifies_enrolled_reposter_and_ignores_strangers(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    fake_x.sign_up(fakes_x.user("101", "ani_asn"), fakes_x.user("999", "stranger"))
    fake_x.post(OFFICIAL_POST, _retweet("905", "101"), _retweet("904", "999"))
    assert world.post.id is not None

    result = verify_post(db, world.post.id, 0, platform=x)

    assert (result.api_calls, result.matches, result.verified) == (1, 1, 1)
    ani = _fresh(session, world.ani_task)
    assert ani.status == AssignmentStatus.VERIFIED
    assert ani.verified_at is not None
    assert (ani.repost_key, ani.repost_url) == ("x:905", "https://x.com/ani_asn/status/905")
    assert ani.followers_at_report == 2500
    assert _fresh(session, world.budi_task).status == AssignmentStatus.PENDING
    assert [(e.check, e.outcome, e.platform_post_id) for e in _evidence(session, ani)] == [
        ("x_search", "verified", "905")
    ]
    assert len(session.exec(select(Evidence)).all()) == 1  # the stranger left no trace
    cursor = _cursor(session, world.post)
    assert (cursor.since_id, cursor.api_calls, cursor.rounds) == ("905", 1, 1)
    assert "since_id" not in fake_x.params(0)
    following = session.exec(
        select(WorkItem).where(WorkItem.key == post_round_key(world.post.id, 1))
    ).one()
    assert following.kind == "verify_post"
    assert following.run_at > utcnow()


def test_second_round_uses_since_id_and_verifies_nothing_twice(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    fake_x.sign_up(fakes_x.user("101", "ani_asn"), fakes_x.user("102", "budi_asn"))
    fake_x.post(OFFICIAL_POST, _retweet("905", "101"))
    assert world.post.id is not None

    verify_post(db, world.post.id, 0, platform=x)
    # Ani quotes the post as well, Budi retweets it: Ani's second repost must not count twice.
    fake_x.post(fakes_x.quote("910", "101", "Mantap", OFFICIAL), _retweet("907", "102"))
    second = verify_post(db, world.post.id, 1, platform=x)

    assert fake_x.params(1)["since_id"] == "905"
    assert (second.matches, second.verified) == (2, 1)
    assert len(_evidence(session, world.ani_task)) == 1
    assert _fresh(session, world.ani_task).repost_key == "x:905"
    assert _fresh(session, world.budi_task).status == AssignmentStatus.VERIFIED
    cursor = _cursor(session, world.post)
    assert (cursor.since_id, cursor.api_calls, cursor.rounds) == ("910", 2, 2)


def test_search_pages_cost_one_call_each(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    fake_x.page_size = 1
    fake_x.post(OFFICIAL_POST, _retweet("905", "101"), _retweet("903", "102"))
    assert world.post.id is not None

    result = verify_post(db, world.post.id, 0, platform=x)

    assert (result.api_calls, result.verified) == (2, 2)
    assert fake_x.params(1)["next_token"] == fake_x.answers[0][1]["meta"]["next_token"]


def test_rate_limited_search_retries_at_the_reset_time(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    fake_x.limit(fakes_x.SEARCH, 0, reset=RESET)
    assert world.post.id is not None

    with pytest.raises(RetryLater) as caught:
        verify_post(db, world.post.id, 0, platform=x)

    assert caught.value.at == datetime(2026, 1, 1, tzinfo=UTC)
    assert _cursor(session, world.post).api_calls == 1
    assert session.exec(select(WorkItem).where(WorkItem.kind == "verify_post")).all() == []


def test_no_round_is_queued_after_the_campaign_deadline(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    from content.models import Campaign

    campaign = session.get_one(Campaign, world.post.campaign_id)
    campaign.deadline = utcnow() - timedelta(minutes=1)
    session.add(campaign)
    session.commit()
    fake_x.post(OFFICIAL_POST)  # nobody reposted
    assert world.post.id is not None

    verify_post(db, world.post.id, 3, platform=x)

    assert session.exec(select(WorkItem).where(WorkItem.kind == "verify_post")).all() == []


def test_dispatch_queues_the_first_search_round(session: Session, db: Engine) -> None:

    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    post = make_post(
        session, make_campaign(session, agency, editor), editor, status=PostStatus.APPROVED
    )
    make_asn(session, unit, platforms=["x"])
    assert post.id is not None

    assert dispatch_post(db, post.id) >= 1

    item = session.exec(select(WorkItem).where(WorkItem.key == post_round_key(post.id, 0))).one()
    assert item.kind == "verify_post"
    assert item.run_at > utcnow()  # nobody can have reposted yet: no call billed right away


def _reported(session: Session, task: Assignment, asn: Asn, tweet_id: str) -> Assignment:
    handle = session.exec(select(SocialAccount.handle).where(SocialAccount.asn_id == asn.id)).one()
    assert task.id is not None
    return report_repost(session, asn, task.id, f"https://x.com/{handle}/status/{tweet_id}")


def test_reporting_queues_a_link_check(session: Session, world: World) -> None:
    task = _reported(session, world.ani_task, world.ani, "777")

    item = session.exec(select(WorkItem).where(WorkItem.kind == "verify_link")).one()
    assert item.key == f"verify:link:{task.id}:x:777"


def test_link_quoting_the_official_post_is_verified(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    task = _reported(session, world.ani_task, world.ani, "777")
    fake_x.post(fakes_x.quote("777", "101", "Setuju", OFFICIAL))
    assert task.id is not None

    evidence = verify_link(db, task.id, platform=x)

    assert evidence is not None
    assert (evidence.check, evidence.outcome, evidence.platform_post_id) == (
        "x_lookup",
        "verified",
        "777",
    )
    assert _fresh(session, task).status == AssignmentStatus.VERIFIED
    assert _cursor(session, world.post).api_calls == 1


def test_link_with_only_the_tracking_link_is_verified(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    task = _reported(session, world.ani_task, world.ani, "778")
    link = f"http://testserver/r/{task.code}"  # X shows it as a t.co link that unwinds elsewhere
    fake_x.post(fakes_x.tweet("778", "101", f"Baca {link} ya", unwound={link: LANDING}))
    assert task.id is not None

    verify_link(db, task.id, platform=x)

    assert _fresh(session, task).status == AssignmentStatus.VERIFIED


def test_link_from_another_account_is_rejected_as_wrong_author(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    task = _reported(session, world.ani_task, world.ani, "779")
    fake_x.post(fakes_x.quote("779", "555", "Setuju #UMKMGoDigital", OFFICIAL))
    assert task.id is not None

    verify_link(db, task.id, platform=x)

    task = _fresh(session, task)
    assert (task.status, task.rejection_reason) == (AssignmentStatus.REJECTED, "wrong_author")


def test_unrelated_post_is_rejected_as_not_a_repost(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    task = _reported(session, world.ani_task, world.ani, "780")
    # "#UMKMGoDigital2" is a different hashtag, not the campaign's.
    fake_x.post(fakes_x.tweet("780", "101", "Makan siang #UMKMGoDigital2"))
    assert task.id is not None

    verify_link(db, task.id, platform=x)

    task = _fresh(session, task)
    assert (task.status, task.rejection_reason) == (AssignmentStatus.REJECTED, "not_a_repost")


def test_verified_repost_deleted_later_stays_verified_and_is_flagged(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    task = _reported(session, world.ani_task, world.ani, "781")
    fake_x.post(fakes_x.quote("781", "101", "Setuju", OFFICIAL))
    assert task.id is not None

    verify_link(db, task.id, platform=x)
    fake_x.delete("781")
    verify_link(db, task.id, platform=x)

    task = _fresh(session, task)
    assert task.status == AssignmentStatus.VERIFIED
    assert task.flagged_gone_at is not None
    assert [(e.outcome, e.reason) for e in _evidence(session, task)] == [
        ("verified", None),
        ("gone", "deleted"),
    ]


def test_reported_link_already_deleted_is_rejected(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    task = _reported(session, world.ani_task, world.ani, "782")  # deleted before the check
    assert task.id is not None

    verify_link(db, task.id, platform=x)

    task = _fresh(session, task)
    assert (task.status, task.rejection_reason) == (AssignmentStatus.REJECTED, "deleted")


def test_rate_limited_link_check_retries_at_the_reset_time(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    task = _reported(session, world.ani_task, world.ani, "783")
    fake_x.post(fakes_x.quote("783", "101", "Setuju", OFFICIAL))
    fake_x.limit(fakes_x.TWEET, 0, reset=RESET)
    assert task.id is not None

    with pytest.raises(RetryLater) as caught:
        verify_link(db, task.id, platform=x)

    assert caught.value.at == datetime(2026, 1, 1, tzinfo=UTC)
    assert _fresh(session, task).status == AssignmentStatus.REPORTED
    assert _evidence(session, task) == []


def test_expired_token_records_an_error_and_keeps_the_report(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    task = _reported(session, world.ani_task, world.ani, "784")
    fake_x.add("/2/tweets/784", fakes_x.problem(401, "Unauthorized", "Unauthorized"), status=401)
    assert task.id is not None

    evidence = verify_link(db, task.id, platform=x)

    assert evidence is not None
    assert (evidence.outcome, evidence.reason) == ("error", "auth")
    assert "test-bearer" not in evidence.detail
    assert _fresh(session, task).status == AssignmentStatus.REPORTED


@respx.mock
def test_without_credentials_oembed_verifies_author_and_hashtag(
    db: Engine, session: Session, world: World
) -> None:
    task = _reported(session, world.ani_task, world.ani, "785")
    respx.get(OEMBED_URL).mock(
        return_value=httpx.Response(
            200, json=fakes_x.oembed("785", "ani_asn", "Ayo dukung #UMKMGoDigital")
        )
    )
    assert task.id is not None

    evidence = verify_link(db, task.id, platform=XPlatform(""))

    assert evidence is not None
    assert (evidence.check, evidence.outcome) == ("x_oembed", "verified")
    assert _fresh(session, task).status == AssignmentStatus.VERIFIED


@respx.mock
def test_oembed_without_link_or_hashtag_leaves_the_report_waiting(
    db: Engine, session: Session, world: World
) -> None:
    task = _reported(session, world.ani_task, world.ani, "786")
    respx.get(OEMBED_URL).mock(
        return_value=httpx.Response(200, json=fakes_x.oembed("786", "ani_asn", "Selamat pagi"))
    )
    assert task.id is not None

    evidence = verify_link(db, task.id, platform=XPlatform(""))

    assert evidence is not None
    assert (evidence.outcome, evidence.reason) == ("unverifiable", "no_link_or_hashtag")
    assert _fresh(session, task).status == AssignmentStatus.REPORTED


def test_facebook_without_token_is_recorded_unverifiable(
    db: Engine, session: Session, world: World
) -> None:
    task = world.ani_task
    task.platform = "facebook"  # the Graph check path; no token is configured in tests
    task.status = AssignmentStatus.REPORTED
    task.repost_url = "https://www.facebook.com/ani.asn/posts/1234567890"
    task.repost_key = "facebook:1234567890"
    session.add(task)
    session.commit()
    assert task.id is not None

    evidence = verify_link(db, task.id)

    assert evidence is not None
    assert (evidence.check, evidence.outcome) == ("facebook_graph", "unverifiable")
    assert _fresh(session, task).status == AssignmentStatus.REPORTED


@respx.mock
def test_worker_runs_the_queued_link_check_end_to_end(
    db: Engine, session: Session, world: World
) -> None:
    task = _reported(session, world.ani_task, world.ani, "787")
    respx.get(OEMBED_URL).mock(
        return_value=httpx.Response(200, json=fakes_x.oembed("787", "ani_asn", "#UMKMGoDigital"))
    )

    ran = jobs.run_due(db, "test-worker", limit=5)

    assert ran == 1
    assert _fresh(session, task).status == AssignmentStatus.VERIFIED
