"""The Facebook channel against respx-faked Graph responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from channels.facebook import FacebookPlatform, from_settings, parse_permalink
from channels.graph import GraphClient
from channels.platforms import (
    AuthError,
    NotConnected,
    PostGone,
    RateLimited,
    SocialPlatform,
    Unverifiable,
)
from gaung.settings import GraphSettings

BASE = "https://graph.test"
TOKEN = "EAAB-page-token-789"
PAGE = "1122334455"


def graph_error(code: int, subcode: int | None = None, message: str = "boom") -> dict[str, object]:
    error: dict[str, object] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


@pytest.fixture
def settings() -> GraphSettings:
    return GraphSettings(version="v24.0", base_url=BASE, access_token=TOKEN, app_secret="s")


@pytest.fixture
def facebook(settings: GraphSettings) -> FacebookPlatform:
    return from_settings(settings)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


POST = {
    "id": f"{PAGE}_998877",
    "message": "Vaksinasi gratis di puskesmas #InfoResmiASN",
    "created_time": "2025-02-14T03:00:00+0000",
    "permalink_url": "https://www.facebook.com/humas.kota/posts/998877",
    "from": {"id": PAGE, "name": "Humas Kota"},
}


def test_implements_the_platform_contract(facebook: FacebookPlatform) -> None:
    assert isinstance(facebook, SocialPlatform)
    assert facebook.slug == "facebook"


def test_without_token_not_connected_and_calls_raise(settings: GraphSettings) -> None:
    platform = from_settings(settings.model_copy(update={"access_token": ""}))

    assert platform.connected() is False
    with pytest.raises(NotConnected):
        platform.fetch_post(f"{PAGE}_1")
    with pytest.raises(NotConnected):
        platform.lookup_account("humas.kota")
    with pytest.raises(NotConnected):
        platform.metrics([f"{PAGE}_1"])


def test_fetch_post_by_id(facebook: FacebookPlatform, mock: respx.MockRouter) -> None:
    mock.get(f"/v24.0/{PAGE}_998877").respond(json=POST)

    post = facebook.fetch_post(f"{PAGE}_998877")

    assert post.post_id == f"{PAGE}_998877"
    assert post.author_id == PAGE
    assert post.created_at == datetime(2025, 2, 14, 3, 0, tzinfo=UTC)
    assert post.text.startswith("Vaksinasi")
    assert post.url == POST["permalink_url"]


def test_fetch_post_by_page_permalink_resolves_the_page(
    facebook: FacebookPlatform, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/humas.kota").respond(
        json={"id": PAGE, "name": "Humas Kota", "username": "humas.kota", "followers_count": 4200}
    )
    shared = {**POST, "id": f"{PAGE}_5566", "parent_id": f"{PAGE}_998877"}
    mock.get(f"/v24.0/{PAGE}_5566").respond(json=shared)

    post = facebook.fetch_post("https://www.facebook.com/humas.kota/posts/5566")

    assert post.post_id == f"{PAGE}_5566"
    assert post.referenced_post_ids == (f"{PAGE}_998877",)


def test_personal_profile_permalink_is_unverifiable_not_gone(
    facebook: FacebookPlatform, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/100012345").respond(
        400, json=graph_error(100, 33, "Object with ID '100012345' does not exist")
    )

    with pytest.raises(Unverifiable):
        facebook.fetch_post("https://www.facebook.com/permalink.php?story_fbid=42&id=100012345")


@pytest.mark.parametrize(
    "url",
    [
        "https://www.facebook.com/share/p/1AbCdEfG/",
        "https://www.facebook.com/budi/posts/pfbid02xYz",
        "https://example.com/humas/posts/123",
    ],
)
def test_links_graph_cannot_resolve_are_unverifiable(
    facebook: FacebookPlatform, mock: respx.MockRouter, url: str
) -> None:
    with pytest.raises(Unverifiable):
        facebook.fetch_post(url)
    assert mock.calls.call_count == 0


@pytest.mark.parametrize(
    ("url", "owner", "post_id"),
    [
        ("https://www.facebook.com/humas.kota/posts/5566", "humas.kota", "5566"),
        ("https://m.facebook.com/story.php?story_fbid=42&id=100012345", "100012345", "42"),
        ("facebook.com/humas.kota/videos/777", "humas.kota", "777"),
        ("https://www.facebook.com/photo.php?fbid=31&id=55", "55", "31"),
        (f"{PAGE}_998877", PAGE, "998877"),
        ("998877", None, "998877"),
    ],
)
def test_parse_permalink(url: str, owner: str | None, post_id: str) -> None:
    target = parse_permalink(url)

    assert (target.owner, target.post_id) == (owner, post_id)


def test_deleted_post_raises_post_gone(facebook: FacebookPlatform, mock: respx.MockRouter) -> None:
    mock.get(f"/v24.0/{PAGE}_1").respond(400, json=graph_error(100, 33))

    with pytest.raises(PostGone):
        facebook.fetch_post(f"{PAGE}_1")


def test_expired_token_raises_auth_error_without_the_token(
    facebook: FacebookPlatform, mock: respx.MockRouter
) -> None:
    mock.get(f"/v24.0/{PAGE}_1").respond(
        400, json=graph_error(190, 463, f"Session has expired for token {TOKEN}")
    )

    with pytest.raises(AuthError) as caught:
        facebook.fetch_post(f"{PAGE}_1")

    assert TOKEN not in str(caught.value)
    assert TOKEN not in caught.value.detail


def test_throttled_raises_rate_limited_with_reset_time(
    facebook: FacebookPlatform, mock: respx.MockRouter
) -> None:
    usage = {
        PAGE: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 1,
                "total_time": 1,
                "estimated_time_to_regain_access": 30,
            }
        ]
    }
    mock.get(f"/v24.0/{PAGE}_1").respond(
        400, json=graph_error(32), headers={"X-Business-Use-Case-Usage": json.dumps(usage)}
    )

    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        facebook.fetch_post(f"{PAGE}_1")

    assert (caught.value.reset_at - before).total_seconds() >= 29 * 60


def test_lookup_account_reads_page_followers(
    facebook: FacebookPlatform, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/humas.kota").respond(
        json={"id": PAGE, "name": "Humas Kota", "username": "humas.kota", "followers_count": 4200}
    )

    account = facebook.lookup_account("@humas.kota")

    assert (account.user_id, account.handle, account.followers) == (PAGE, "humas.kota", 4200)


def test_lookup_of_a_profile_is_unverifiable(
    facebook: FacebookPlatform, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/budi.santoso").respond(400, json=graph_error(100, 33))

    with pytest.raises(Unverifiable):
        facebook.lookup_account("budi.santoso")


def test_find_reposts_is_unsupported_and_costs_nothing(
    facebook: FacebookPlatform, mock: respx.MockRouter
) -> None:
    assert facebook.find_reposts(f"{PAGE}_1") == ([], None, 0)
    assert mock.calls.call_count == 0


def counts(shares: int, reactions: int, comments: int) -> dict[str, object]:
    return {
        "id": f"{PAGE}_1",
        "shares": {"count": shares},
        "reactions": {"data": [], "summary": {"total_count": reactions}},
        "comments": {"data": [], "summary": {"total_count": comments}},
    }


def insights(metric: str, value: int) -> dict[str, object]:
    return {
        "data": [
            {
                "name": metric,
                "period": "lifetime",
                "values": [{"value": value}],
                "id": f"{PAGE}_1/insights/{metric}/lifetime",
            }
        ]
    }


def test_metrics_of_own_page_posts(facebook: FacebookPlatform, mock: respx.MockRouter) -> None:
    mock.get(f"/v24.0/{PAGE}_1").respond(json=counts(shares=7, reactions=120, comments=15))
    mock.get(f"/v24.0/{PAGE}_1/insights").respond(json=insights("post_media_view", 5300))
    mock.get(f"/v24.0/{PAGE}_2").respond(400, json=graph_error(100, 33))

    result = facebook.metrics([f"{PAGE}_1", f"{PAGE}_2"])

    assert set(result) == {f"{PAGE}_1"}
    metrics = result[f"{PAGE}_1"]
    assert (metrics.impressions, metrics.likes, metrics.reposts, metrics.replies) == (
        5300,
        120,
        7,
        15,
    )


def test_metrics_fall_back_when_a_metric_is_retired(
    facebook: FacebookPlatform, mock: respx.MockRouter
) -> None:
    def insight(request: httpx.Request) -> httpx.Response:
        if request.url.params["metric"] == "post_media_view":
            return httpx.Response(400, json=graph_error(100, message="(#100) invalid metric"))
        return httpx.Response(200, json=insights("post_impressions", 900))

    mock.get(f"/v24.0/{PAGE}_1").respond(json=counts(1, 2, 3))
    mock.get(f"/v24.0/{PAGE}_1/insights").mock(side_effect=insight)

    assert facebook.metrics([f"{PAGE}_1"])[f"{PAGE}_1"].impressions == 900


def test_metrics_without_any_impression_metric_are_none_not_zero(
    facebook: FacebookPlatform, mock: respx.MockRouter
) -> None:
    mock.get(f"/v24.0/{PAGE}_1").respond(json=counts(1, 2, 3))
    mock.get(f"/v24.0/{PAGE}_1/insights").respond(
        400, json=graph_error(100, message="(#100) invalid metric")
    )

    metrics = facebook.metrics([f"{PAGE}_1"])[f"{PAGE}_1"]

    assert metrics.impressions is None
    assert metrics.likes == 2


def test_platform_built_with_client_counts_calls(mock: respx.MockRouter) -> None:
    client = GraphClient("v24.0", TOKEN, "", BASE)
    mock.get(f"/v24.0/{PAGE}_1").respond(json=POST)

    FacebookPlatform(client).fetch_post(f"{PAGE}_1")

    assert client.calls == 1
