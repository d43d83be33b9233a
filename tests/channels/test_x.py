"""X channel against the fake X API v2 (tests/channels/fakes_x.py) and a respx-faked oEmbed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from assignments.metrics import Metrics
from channels import platforms
from channels.platforms import (
    AccountGone,
    AuthError,
    NotConnected,
    PostGone,
    RateLimited,
    SocialPlatform,
)
from channels.x import OEMBED_URL, XPlatform, from_settings, parse_status_url
from gaung.db import utcnow
from gaung.errors import GaungError
from gaung.settings import get_settings
from tests.channels import fakes_x
from tests.channels.fakes_x import FakeX

OFFICIAL = "1895000000000000001"


def test_x_platform_satisfies_the_contract(x: XPlatform) -> None:
    assert isinstance(x, SocialPlatform)
    assert x.connected()


def test_lookup_account_returns_followers_and_strips_at(x: XPlatform, fake_x: FakeX) -> None:
    fake_x.sign_up(fakes_x.user("42", "humas_kemen", 8800))

    account = x.lookup_account("@humas_kemen")

    assert (account.user_id, account.handle, account.followers) == ("42", "humas_kemen", 8800)
    assert fake_x.params(0)["user.fields"] == "description,public_metrics"
    assert fake_x.requests[0].headers["Authorization"] == "Bearer test-bearer"


def test_lookup_of_unknown_account_raises_account_gone(x: XPlatform, fake_x: FakeX) -> None:
    with pytest.raises(AccountGone):
        x.lookup_account("ghost")

    assert fake_x.answers[0][1] == {"errors": [fakes_x.not_found("ghost", "user", "username")]}


def test_fetch_quote_by_url_returns_referenced_posts(x: XPlatform, fake_x: FakeX) -> None:
    fake_x.post(fakes_x.quote("777", "9", "Setuju! #InfoResmiASN", OFFICIAL))
    fake_x.sign_up(fakes_x.user("9", "budi_asn"))

    post = x.fetch_post("https://twitter.com/budi_asn/status/777?s=20")

    assert post.post_id == "777"
    assert post.author_id == "9"
    assert post.author_handle == "budi_asn"
    assert post.referenced_post_ids == (OFFICIAL,)
    assert post.created_at == datetime(2025, 3, 1, 2, 30, tzinfo=UTC)
    assert post.url == "https://x.com/budi_asn/status/777"
    assert set(fake_x.params(0)["tweet.fields"].split(",")) >= {"referenced_tweets", "author_id"}
    assert fake_x.params(0)["expansions"] == "author_id"


def test_fetch_post_gives_links_as_their_author_wrote_them(x: XPlatform, fake_x: FakeX) -> None:
    link = "http://testserver/r/AbC123xyz"
    # X stores a t.co link in the text; where the link redirects to is not what was written.
    typed = f"Baca {link} ya"
    fake_x.post(fakes_x.tweet("778", "9", typed, unwound={link: "https://kominfo.go.id/umkm"}))

    post = x.fetch_post("778")

    assert fakes_x.t_co(link) in fake_x.answers[0][1]["data"]["text"]
    assert post.text == typed


def test_deleted_tweet_raises_post_gone(x: XPlatform, fake_x: FakeX) -> None:
    fake_x.post(fakes_x.tweet("555", "9"))
    fake_x.delete("555")

    with pytest.raises(PostGone):
        x.fetch_post("555")


def test_http_404_raises_post_gone(x: XPlatform, fake_x: FakeX) -> None:
    fake_x.add("/2/tweets/556", fakes_x.problem(404, "Not Found", "gone"), status=404)

    with pytest.raises(PostGone):
        x.fetch_post("556")


def test_find_reposts_pages_through_results_and_classifies_kinds(
    x: XPlatform, fake_x: FakeX
) -> None:
    users = [fakes_x.user("1", "ani"), fakes_x.user("2", "budi"), fakes_x.user("3", "citra")]
    official = fakes_x.tweet(OFFICIAL, "10", "Info")
    page1 = fakes_x.search_page(
        [
            fakes_x.retweet("905", "1", official, "humas"),
            fakes_x.quote("904", "2", "Mantap", OFFICIAL),
        ],
        users[:2],
        next_token="page2",
    )
    page2 = fakes_x.search_page(
        [
            fakes_x.retweet("903", "3", official, "humas"),
            # A quote of some other post that also matched the query text: not ours.
            fakes_x.quote("902", "3", "Lain", "1"),
        ],
        users[2:],
    )
    fake_x.add(fakes_x.SEARCH, page1)
    fake_x.add(fakes_x.SEARCH, page2)

    matches, newest, calls = x.find_reposts(OFFICIAL, since_id="900")

    assert [(m.post.post_id, m.post.author_handle, m.kind) for m in matches] == [
        ("905", "ani", "repost"),
        ("904", "budi", "quote"),
        ("903", "citra", "repost"),
    ]
    assert newest == "905"
    assert calls == 2
    first, second = fake_x.params(0), fake_x.params(1)
    assert first["query"] == f"retweets_of_tweet_id:{OFFICIAL} OR quotes_of_tweet_id:{OFFICIAL}"
    assert first["since_id"] == second["since_id"] == "900"
    assert first["max_results"] == "100"
    assert "next_token" not in first
    assert second["next_token"] == "page2"
    assert x.calls == 2


def test_find_reposts_with_no_results_keeps_no_newest_id(x: XPlatform, fake_x: FakeX) -> None:
    assert x.find_reposts(OFFICIAL) == ([], None, 1)
    assert fake_x.answers[0][1] == {"meta": {"result_count": 0}}
    assert "since_id" not in fake_x.params(0)


def test_rate_limit_raises_with_reset_time_from_header(x: XPlatform, fake_x: FakeX) -> None:
    reset = 1_767_225_600  # 2026-01-01T00:00:00Z
    fake_x.limit(fakes_x.SEARCH, 0, reset=reset)

    with pytest.raises(RateLimited) as caught:
        x.find_reposts(OFFICIAL)

    assert caught.value.reset_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_rate_limit_without_reset_header_retries_after_the_window(
    x: XPlatform, fake_x: FakeX
) -> None:
    fake_x.limit(fakes_x.TWEETS, 0, reset=None)
    before = utcnow()

    with pytest.raises(RateLimited) as caught:
        x.metrics(["1"])

    assert caught.value.reset_at >= before + timedelta(minutes=14)


def test_unauthorized_raises_auth_error_without_the_token(x: XPlatform, fake_x: FakeX) -> None:
    fake_x.add("/2/tweets/1", fakes_x.problem(401, "Unauthorized", "Unauthorized"), status=401)

    with pytest.raises(AuthError) as caught:
        x.fetch_post("1")

    assert "test-bearer" not in str(caught.value)


def test_metrics_batches_100_ids_per_call(x: XPlatform, fake_x: FakeX) -> None:
    ids = [str(1000 + n) for n in range(150)]
    fake_x.post(*(fakes_x.tweet(i, "1", impressions=int(i), likes=2, retweets=3) for i in ids))

    result = x.metrics(ids)

    assert len(fake_x.requests) == 2
    assert fake_x.params(0)["ids"].split(",") == ids[:100]
    assert fake_x.params(1)["ids"].split(",") == ids[100:]
    assert "public_metrics" in fake_x.params(0)["tweet.fields"]
    assert result["1149"] == Metrics(impressions=1149, likes=2, reposts=3, replies=0)
    assert len(result) == 150


def test_metrics_leave_out_deleted_posts(x: XPlatform, fake_x: FakeX) -> None:
    fake_x.post(fakes_x.tweet("10", "1", likes=5))  # 11 was deleted

    assert set(x.metrics(["10", "11"])) == {"10"}


def test_without_token_not_connected_and_api_calls_refuse() -> None:
    x = XPlatform("")

    assert not x.connected()
    with pytest.raises(NotConnected):
        x.find_reposts(OFFICIAL)
    with pytest.raises(NotConnected):
        x.metrics(["1"])


@respx.mock
def test_without_token_fetch_post_falls_back_to_oembed() -> None:
    route = respx.get(OEMBED_URL).mock(
        return_value=httpx.Response(
            200, json=fakes_x.oembed("777", "budi_asn", "Info &amp; layanan <a href='#'>#ASN</a>")
        )
    )

    post = XPlatform("").fetch_post("https://x.com/budi_asn/status/777/photo/1")

    assert route.called
    assert route.calls[0].request.url.params["url"] == "https://twitter.com/budi_asn/status/777"
    assert post.author_handle == "budi_asn"
    assert post.author_id is None
    assert post.text == "Info & layanan #ASN"


@respx.mock
def test_oembed_404_raises_post_gone() -> None:
    respx.get(OEMBED_URL).mock(return_value=httpx.Response(404))

    with pytest.raises(PostGone):
        XPlatform("").fetch_post("https://twitter.com/budi_asn/status/778")


def test_registry_builds_x_from_current_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAUNG_X__BEARER_TOKEN", "")
    get_settings.cache_clear()
    try:
        assert platforms.get_platform("x").connected() is False
        monkeypatch.setenv("GAUNG_X__BEARER_TOKEN", "configured")
        get_settings.cache_clear()
        assert isinstance(from_settings(), XPlatform)
        assert platforms.get_platform("x").connected() is True
    finally:
        get_settings.cache_clear()


_handles = st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True).filter(lambda h: h.lower() != "i")
_ids = st.integers(min_value=1, max_value=2**63 - 1).map(str)


@given(
    handle=_handles,
    post_id=_ids,
    host=st.sampled_from(["x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com"]),
    scheme=st.sampled_from(["https://", "http://", ""]),
    suffix=st.sampled_from(["", "/", "?s=20&t=abc", "/photo/1", "/analytics"]),
)
def test_status_urls_parse_to_id_and_handle(
    handle: str, post_id: str, host: str, scheme: str, suffix: str
) -> None:
    url = f"{scheme}{host}/{handle}/status/{post_id}{suffix}"

    assert parse_status_url(url) == (post_id, handle)


@given(post_id=_ids)
def test_web_status_urls_and_bare_ids_parse_without_handle(post_id: str) -> None:
    assert parse_status_url(post_id) == (post_id, None)
    assert parse_status_url(f"https://x.com/i/web/status/{post_id}") == (post_id, None)


@given(text=st.text(max_size=80))
def test_anything_else_is_rejected_as_not_an_x_link(text: str) -> None:
    field, post_id = None, "0"
    try:
        post_id, _ = parse_status_url(text)
    except GaungError as exc:
        field = exc.field

    assert field in (None, "url")
    assert post_id.isascii()
    assert post_id.isdigit()


@pytest.mark.parametrize(
    "url",
    [
        "https://facebook.com/budi/status/123",
        "https://x.com.evil.example/budi/status/123",
        "https://x.com/budi/status/",
        "https://x.com/budi",
        "ftp://x.com/budi/status/123",
    ],
)
def test_non_status_links_are_rejected(url: str) -> None:
    with pytest.raises(GaungError):
        parse_status_url(url)
