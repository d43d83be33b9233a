"""The Instagram channel (official Graph API) against respx-faked responses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from channels.instagram import InstagramPlatform, from_settings, parse_permalink
from channels.platforms import AuthError, NotConnected, PostGone, SocialPlatform, Unverifiable
from gaung.settings import GraphSettings

BASE = "https://graph.test"
TOKEN = "EAAB-ig-token-321"
IG_USER = "17841400000000001"
ME = f"/v24.0/{IG_USER}"


def graph_error(code: int, subcode: int | None = None, message: str = "boom") -> dict[str, object]:
    error: dict[str, object] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


@pytest.fixture
def settings() -> GraphSettings:
    return GraphSettings(
        version="v24.0", base_url=BASE, access_token=TOKEN, app_secret="s", ig_user_id=IG_USER
    )


@pytest.fixture
def instagram(settings: GraphSettings) -> InstagramPlatform:
    return from_settings(settings)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def media(media_id: str, shortcode: str) -> dict[str, object]:
    return {
        "id": media_id,
        "permalink": f"https://www.instagram.com/p/{shortcode}/",
        "caption": "Repost: vaksinasi gratis #InfoResmiASN",
        "timestamp": "2025-02-14T05:30:00+0000",
        "username": "budi.asn",
    }


def discovery(items: list[dict[str, object]], after: str | None = None) -> dict[str, object]:
    page: dict[str, object] = {"data": items}
    if after:
        page["paging"] = {
            "cursors": {"after": after},
            "next": f"{BASE}/v24.0/{IG_USER}?after={after}",
        }
    return {
        "business_discovery": {
            "id": "17841499999999999",
            "username": "budi.asn",
            "followers_count": 1870,
            "media_count": 240,
            "media": page,
        },
        "id": IG_USER,
    }


def test_implements_the_platform_contract(instagram: InstagramPlatform) -> None:
    assert isinstance(instagram, SocialPlatform)
    assert instagram.connected()


def test_without_token_or_user_id_not_connected(settings: GraphSettings) -> None:
    no_token = from_settings(settings.model_copy(update={"access_token": ""}))
    no_user = from_settings(settings.model_copy(update={"ig_user_id": ""}))

    for platform in (no_token, no_user):
        assert platform.connected() is False
        with pytest.raises(NotConnected):
            platform.lookup_account("budi.asn")
        with pytest.raises(NotConnected):
            platform.metrics(["1"])


def test_lookup_account_uses_business_discovery(
    instagram: InstagramPlatform, mock: respx.MockRouter
) -> None:
    route = mock.get(ME).respond(json=discovery([]))

    account = instagram.lookup_account("@budi.asn")

    assert (account.handle, account.followers) == ("budi.asn", 1870)
    assert "business_discovery.username(budi.asn)" in route.calls.last.request.url.params["fields"]


def test_personal_account_is_unverifiable(
    instagram: InstagramPlatform, mock: respx.MockRouter
) -> None:
    mock.get(ME).respond(400, json=graph_error(110, 2207013, "Cannot find User"))

    with pytest.raises(Unverifiable):
        instagram.lookup_account("private.person")


def test_fetch_post_by_permalink_pages_through_recent_media(
    instagram: InstagramPlatform, mock: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if ".after(CUR1)" in request.url.params["fields"]:
            return httpx.Response(200, json=discovery([media("222", "CxYz2")]))
        return httpx.Response(200, json=discovery([media("111", "AbCd1")], after="CUR1"))

    mock.get(ME).mock(side_effect=answer)

    post = instagram.fetch_post("https://www.instagram.com/p/CxYz2/", author_handle="budi.asn")

    assert post.post_id == "222"
    assert post.author_handle == "budi.asn"
    assert post.author_id == "17841499999999999"
    assert post.created_at == datetime(2025, 2, 14, 5, 30, tzinfo=UTC)


def test_permalink_without_author_is_unverifiable_without_a_call(
    instagram: InstagramPlatform, mock: respx.MockRouter
) -> None:
    with pytest.raises(Unverifiable):
        instagram.fetch_post("https://www.instagram.com/reel/CxYz2/")
    assert mock.calls.call_count == 0


def test_media_missing_from_recent_posts_is_unverifiable(
    instagram: InstagramPlatform, mock: respx.MockRouter
) -> None:
    mock.get(ME).respond(json=discovery([media("111", "AbCd1")]))

    with pytest.raises(Unverifiable):
        instagram.fetch_post("https://www.instagram.com/budi.asn/p/Zz9/")


@pytest.mark.parametrize(
    ("url", "user", "code"),
    [
        ("https://www.instagram.com/p/CxYz2/", None, "CxYz2"),
        ("https://instagram.com/reel/Ab-c_D/?igsh=xyz", None, "Ab-c_D"),
        ("www.instagram.com/budi.asn/p/Q1w2/", "budi.asn", "Q1w2"),
    ],
)
def test_parse_permalink(url: str, user: str | None, code: str) -> None:
    assert parse_permalink(url) == (user, code)


def test_non_instagram_link_is_unverifiable() -> None:
    with pytest.raises(Unverifiable):
        parse_permalink("https://example.com/p/CxYz2/")


def test_deleted_own_media_raises_post_gone(
    instagram: InstagramPlatform, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/1790000000001").respond(400, json=graph_error(100, 33))

    with pytest.raises(PostGone):
        instagram.fetch_post("1790000000001")


def test_expired_token_is_auth_error_without_the_token(
    instagram: InstagramPlatform, mock: respx.MockRouter
) -> None:
    mock.get(ME).respond(400, json=graph_error(190, 463, f"expired token {TOKEN}"))

    with pytest.raises(AuthError) as caught:
        instagram.lookup_account("budi.asn")

    assert TOKEN not in str(caught.value)


def insights(metric: str, value: int) -> dict[str, object]:
    return {"data": [{"name": metric, "period": "lifetime", "values": [{"value": value}]}]}


def test_metrics_of_own_media(instagram: InstagramPlatform, mock: respx.MockRouter) -> None:
    def insight(request: httpx.Request) -> httpx.Response:
        metric = request.url.params["metric"]
        return httpx.Response(200, json=insights(metric, {"views": 3100, "shares": 12}[metric]))

    mock.get("/v24.0/m1").respond(json={"like_count": 250, "comments_count": 9, "id": "m1"})
    mock.get("/v24.0/m1/insights").mock(side_effect=insight)

    metrics = instagram.metrics(["m1"])["m1"]

    assert (metrics.impressions, metrics.likes, metrics.reposts, metrics.replies) == (
        3100,
        250,
        12,
        9,
    )


def test_retired_metrics_give_none_fields_not_errors(
    instagram: InstagramPlatform, mock: respx.MockRouter
) -> None:
    invalid = graph_error(100, message="(#100) metric[0] must be one of the following values")
    mock.get("/v24.0/m1").respond(json={"like_count": 5, "comments_count": 1, "id": "m1"})
    mock.get("/v24.0/m1/insights").respond(400, json=invalid)

    metrics = instagram.metrics(["m1"])["m1"]

    assert metrics.impressions is None
    assert metrics.reposts is None
    assert metrics.likes == 5


def test_deleted_media_is_absent_from_metrics(
    instagram: InstagramPlatform, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/gone").respond(400, json=graph_error(100, 33))

    assert instagram.metrics(["gone"]) == {}


def test_find_reposts_is_unsupported(instagram: InstagramPlatform) -> None:
    assert instagram.find_reposts("m1") == ([], None, 0)
