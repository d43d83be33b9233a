"""The X channel's measuring calls: batch user lookup, metrics of retweets and deleted posts."""

from __future__ import annotations

import pytest

from assignments.metrics import Metrics
from channels.platforms import RateLimited
from channels.x import XPlatform
from tests.channels import fakes_x
from tests.channels.fakes_x import FakeX

OFFICIAL = "1895000000000000001"


def test_users_are_looked_up_100_ids_per_call(x: XPlatform, fake_x: FakeX) -> None:
    ids = [str(500 + n) for n in range(130)]
    fake_x.sign_up(*(fakes_x.user(i, f"u{i}", int(i)) for i in ids))

    found = x.lookup_accounts([*ids, ids[0]])  # a repeated id is asked once

    assert x.calls == 2
    assert fake_x.params(0)["ids"].split(",") == ids[:100]
    assert fake_x.params(1)["ids"].split(",") == ids[100:]
    assert (found["629"].handle, found["629"].followers) == ("u629", 629)
    assert len(found) == 130


def test_suspended_users_are_absent_from_the_lookup(x: XPlatform, fake_x: FakeX) -> None:
    fake_x.sign_up(fakes_x.user("1", "ani"))  # 2 is gone: X answers with an error for it

    assert set(x.lookup_accounts(["1", "2"])) == {"1"}
    assert fake_x.answers[0][1]["errors"] == [fakes_x.not_found("2", "user", "ids")]


def test_a_rate_limited_lookup_says_when_to_retry(x: XPlatform, fake_x: FakeX) -> None:
    fake_x.limit(fakes_x.USERS, 0, reset=1_767_225_600)

    with pytest.raises(RateLimited):
        x.lookup_accounts(["1"])


def test_a_plain_retweet_has_empty_metrics_and_a_quote_its_own(x: XPlatform, fake_x: FakeX) -> None:
    official = fakes_x.tweet(OFFICIAL, "7", retweets=900, likes=4000, impressions=90_000)
    retweet = fakes_x.retweet("10", "1", official, "kominfo")
    quote = fakes_x.quote("11", "1", "Setuju", OFFICIAL, impressions=70, likes=3)
    fake_x.post(official, retweet, quote)

    result = x.metrics(["10", "11"])

    assert fake_x.answers[0][1]["data"][0]["public_metrics"]["retweet_count"] == 900
    assert result["10"] == Metrics()
    assert result["11"] == Metrics(impressions=70, likes=3, reposts=0, replies=0)
    assert "referenced_tweets" in fake_x.params(0)["tweet.fields"]


def test_deleted_posts_are_remembered_as_gone(x: XPlatform, fake_x: FakeX) -> None:
    fake_x.post(fakes_x.tweet("10", "1"), fakes_x.tweet("11", "1"))
    fake_x.delete("11")

    assert set(x.metrics(["10", "11"])) == {"10"}
    assert x.gone == {"11"}
