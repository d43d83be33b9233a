"""The X channel's measuring calls: batch user lookup, metrics of retweets and deleted posts."""

from __future__ import annotations

import pytest

from assignments.metrics import Metrics
from channels.platforms import RateLimited
from channels.x import XPlatform
from tests.channels import fakes_x
from tests.channels.fakes_x import BASE_URL, FakeX

OFFICIAL = "1895000000000000001"


@pytest.fixture
def fake() -> FakeX:
    return FakeX()


@pytest.fixture
def x(fake: FakeX) -> XPlatform:
    platform = XPlatform("test-bearer", BASE_URL)
    platform.client.session.mount(BASE_URL + "/", fake)
    return platform


def test_users_are_looked_up_100_ids_per_call(x: XPlatform, fake: FakeX) -> None:
    ids = [str(500 + n) for n in range(130)]
    fake.add("/2/users", {"data": [fakes_x.user(i, f"u{i}", int(i)) for i in ids[:100]]})
    fake.add("/2/users", {"data": [fakes_x.user(i, f"u{i}", int(i)) for i in ids[100:]]})

    found = x.lookup_accounts([*ids, ids[0]])  # a repeated id is asked once

    assert x.calls == 2
    assert fake.params(0)["ids"].split(",") == ids[:100]
    assert (found["629"].handle, found["629"].followers) == ("u629", 629)
    assert len(found) == 130


def test_suspended_users_are_absent_from_the_lookup(x: XPlatform, fake: FakeX) -> None:
    fake.add("/2/users", {"data": [fakes_x.user("1", "ani")], **fakes_x.not_found("2", "user")})

    assert set(x.lookup_accounts(["1", "2"])) == {"1"}


def test_a_rate_limited_lookup_says_when_to_retry(x: XPlatform, fake: FakeX) -> None:
    fake.add(
        "/2/users",
        fakes_x.problem(429, "Too Many Requests", "Too Many Requests"),
        status=429,
        headers={"x-rate-limit-reset": "1767225600"},
    )

    with pytest.raises(RateLimited):
        x.lookup_accounts(["1"])


def test_a_plain_retweet_has_empty_metrics_and_a_quote_its_own(x: XPlatform, fake: FakeX) -> None:
    retweet = fakes_x.tweet("10", "1", references=[("retweeted", OFFICIAL)], retweets=900)
    quote = fakes_x.tweet("11", "1", references=[("quoted", OFFICIAL)], impressions=70, likes=3)
    fake.add("/2/tweets", {"data": [retweet, quote]})

    result = x.metrics(["10", "11"])

    assert result["10"] == Metrics()
    assert result["11"] == Metrics(impressions=70, likes=3, reposts=0, replies=0)
    assert "referenced_tweets" in fake.params(0)["tweet.fields"]


def test_deleted_posts_are_remembered_as_gone(x: XPlatform, fake: FakeX) -> None:
    fake.add("/2/tweets", {"data": [fakes_x.tweet("10", "1")], **fakes_x.not_found("11")})

    assert set(x.metrics(["10", "11"])) == {"10"}
    assert x.gone == {"11"}
