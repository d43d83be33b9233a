"""Recognising repost links per platform, without touching the database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assignments.reporting import RepostRef, parse_repost_url
from gaung.errors import GaungError


def _error(platform: str, url: str) -> GaungError:
    with pytest.raises(GaungError) as caught:
        parse_repost_url(platform, url)
    assert caught.value.field == "repost_url"
    return caught.value


@pytest.mark.parametrize(
    ("url", "handle"),
    [
        ("https://x.com/Kominfo/status/1790000000000000001", "kominfo"),
        ("https://twitter.com/kominfo/status/1790000000000000001?s=20&t=abc", "kominfo"),
        ("http://mobile.twitter.com/kominfo/status/1790000000000000001/photo/1", "kominfo"),
        ("https://www.x.com/kominfo/status/1790000000000000001#frag", "kominfo"),
        ("x.com/kominfo/status/1790000000000000001", "kominfo"),
        ("https://x.com/i/web/status/1790000000000000001", None),
    ],
)
def test_x_status_links_share_one_key(url: str, handle: str | None) -> None:
    assert parse_repost_url("x", url) == RepostRef(
        key="x:1790000000000000001", handle=handle, post_id="1790000000000000001"
    )


@pytest.mark.parametrize(
    ("url", "handle"),
    [
        ("https://www.instagram.com/p/C7abcDEF_12/", None),
        ("https://instagram.com/reel/C7abcDEF_12/?igsh=MWx0", None),
        ("https://www.instagram.com/Budi.Santoso/p/C7abcDEF_12/", "budi.santoso"),
    ],
)
def test_instagram_post_and_reel_links_key_on_the_shortcode(url: str, handle: str | None) -> None:
    ref = parse_repost_url("instagram", url)
    assert ref.key == "instagram:C7abcDEF_12"
    assert ref.handle == handle


FB_STORY = "facebook:123456789"


@pytest.mark.parametrize(
    ("url", "key", "handle"),
    [
        ("https://www.facebook.com/budi.santoso/posts/123456789", FB_STORY, "budi.santoso"),
        ("https://m.facebook.com/Budi.Santoso/posts/123456789?ref=x", FB_STORY, "budi.santoso"),
        ("https://www.facebook.com/permalink.php?story_fbid=123456789&id=1000", FB_STORY, None),
        ("https://m.facebook.com/story.php?story_fbid=123456789&id=1000", FB_STORY, None),
        ("https://fb.com/budi/posts/pfbid02abcdefGHIJK1", "facebook:pfbid02abcdefGHIJK1", "budi"),
        ("https://web.facebook.com/share/p/1AbCdEfGh/", "facebook:share:1AbCdEfGh", None),
    ],
)
def test_facebook_links_get_stable_keys(url: str, key: str, handle: str | None) -> None:
    ref = parse_repost_url("facebook", url)
    assert (ref.key, ref.handle) == (key, handle)


def test_a_link_from_another_platform_is_refused_by_name() -> None:
    error = _error("x", "https://www.facebook.com/budi/posts/123")
    assert error.message == "This is not a %(platform)s link."
    assert error.params == {"platform": "X"}
    assert _error("instagram", "https://example.com/p/abcdef").params == {"platform": "Instagram"}


def test_a_look_alike_host_is_not_the_platform() -> None:
    assert _error("x", "https://x.com.evil.example/kominfo/status/1").params == {"platform": "X"}
    assert _error("x", "https://x.com@evil.example/kominfo/status/1").params == {"platform": "X"}


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/kominfo",
        "https://x.com/kominfo/likes",
        "https://x.com/kominfo/status/notanumber",
        "https://x.com/home",
    ],
)
def test_a_platform_link_that_is_not_a_post_is_refused(url: str) -> None:
    assert _error("x", url).message == "This %(platform)s link does not point to a post."


def test_non_web_schemes_and_non_links_get_their_own_messages() -> None:
    assert _error("x", "ftp://x.com/kominfo/status/1").message == (
        "The link must start with https:// or http://."
    )
    assert _error("x", "saya sudah repost").message == "This is not a valid link."
    assert _error("x", "javascript:alert(1)").message == "This is not a valid link."
    assert _error("x", "   ").message == "Enter the link to your repost."
    assert _error("x", "https://x.com/" + "a" * 600).message == "This link is too long."


@given(
    handle=st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True),
    status_id=st.integers(min_value=1, max_value=2**63 - 1),
    host=st.sampled_from(["x.com", "twitter.com", "mobile.twitter.com", "www.twitter.com"]),
    scheme=st.sampled_from(["https", "http"]),
    tail=st.sampled_from(["", "/", "?s=20&t=Ab_c", "#top", "/photo/1", "/analytics?ref=1"]),
)
def test_any_x_status_url_round_trips_to_its_id(
    handle: str, status_id: int, host: str, scheme: str, tail: str
) -> None:
    ref = parse_repost_url("x", f"{scheme}://{host}/{handle}/status/{status_id}{tail}")
    assert ref.key == f"x:{status_id}"
    assert ref.post_id == str(status_id)
    assert ref.handle == handle.lower()


@given(
    platform=st.sampled_from(["x", "facebook", "instagram"]),
    prefix=st.sampled_from(["", "https://", "https://x.com/", "https://facebook.com/", "http://["]),
    junk=st.text(max_size=80),
)
def test_junk_only_ever_raises_a_gaung_error(platform: str, prefix: str, junk: str) -> None:
    ref: RepostRef | GaungError
    try:
        ref = parse_repost_url(platform, prefix + junk)
    except GaungError as error:
        ref = error
    if isinstance(ref, GaungError):
        assert ref.field == "repost_url"
    else:
        assert ref.key.startswith(platform + ":")
