"""The official post of each platform must be a link to a post on that platform."""

from __future__ import annotations

import pytest

from gaung.errors import GaungError
from gaung.post_links import OFFICIAL_EXAMPLES, check_official_url

ACCEPTED = [
    ("x", "https://x.com/kominfo/status/1790000000000000000"),
    ("x", "https://twitter.com/kominfo/status/17"),
    ("x", "https://mobile.twitter.com/kominfo/status/17?s=20"),
    ("x", "https://mobile.x.com/kominfo/statuses/17"),
    ("x", "https://x.com/i/web/status/17"),
    ("facebook", "https://www.facebook.com/kominfo/posts/pfbid02AbCdEfGhIjKlMnOp"),
    ("facebook", "https://m.facebook.com/permalink.php?story_fbid=123&id=456"),
    ("facebook", "https://www.facebook.com/kominfo/videos/1234567890"),
    ("facebook", "https://www.facebook.com/reel/1234567890"),
    ("facebook", "https://www.facebook.com/share/p/AbCd1234/"),
    ("instagram", "https://www.instagram.com/p/C7AbCdEfGhI/"),
    ("instagram", "https://www.instagram.com/reel/C7AbCdEfGhI/"),
    ("instagram", "https://www.instagram.com/kominfo/p/C7AbCdEfGhI/"),
]
REFUSED = [
    ("x", "https://www.facebook.com/kominfo/posts/123"),
    ("x", "https://x.com/kominfo"),
    ("x", "https://x.com/kominfo/likes/12"),
    ("facebook", "https://x.com/kominfo/status/17"),
    ("facebook", "https://www.facebook.com/kominfo"),
    ("instagram", "https://www.instagram.com/kominfo/"),
    ("instagram", "https://www.facebook.com/kominfo/posts/123"),
]


@pytest.mark.parametrize(("platform", "url"), ACCEPTED)
def test_a_post_of_the_platform_is_accepted(platform: str, url: str) -> None:
    assert check_official_url(platform, url).post_id or platform == "facebook"


@pytest.mark.parametrize(("platform", "url"), REFUSED)
def test_another_shape_names_the_field_the_platform_and_an_example(platform: str, url: str) -> None:
    with pytest.raises(GaungError) as caught:
        check_official_url(platform, url)
    assert caught.value.field == f"official_url_{platform}"
    assert caught.value.params["example"] == OFFICIAL_EXAMPLES[platform]
    assert caught.value.params["platform"] in ("X", "Facebook", "Instagram")


@pytest.mark.parametrize("platform", sorted(OFFICIAL_EXAMPLES))
def test_every_example_is_itself_accepted(platform: str) -> None:
    check_official_url(platform, OFFICIAL_EXAMPLES[platform])
