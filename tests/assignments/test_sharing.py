"""Share links for the inbox: X intent, Facebook sharer, Instagram download + caption."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from assignments.models import Assignment
from assignments.sharing import share_links, tracking_url
from content.models import Post

LINK = "https://www.kominfo.go.id/berita/umkm-digital"
TEXT = f"UMKM naik kelas & go digital! {LINK} #UMKMGoDigital #InfoResmiASN"


def _pair(platform: str, image_path: str | None = None) -> tuple[Assignment, Post, str]:
    assignment = Assignment(
        post_id=1,
        campaign_id=1,
        unit_id=1,
        asn_id=1,
        platform=platform,
        code="Ab12Cd34",
        deadline=datetime(2026, 8, 17, tzinfo=UTC),
    )
    post = Post(campaign_id=1, author_id=1, master_text=TEXT, link=LINK, image_path=image_path)
    return assignment, post, TEXT


def test_the_tracking_url_is_personal_and_on_our_base_url() -> None:
    assert tracking_url("Ab12Cd34") == "http://testserver/r/Ab12Cd34"


def test_x_gets_an_intent_url_with_the_text_and_the_personal_link() -> None:
    links = share_links(*_pair("x"))
    parts = urlsplit(links.share_url or "")
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://twitter.com/intent/tweet"
    text = parse_qs(parts.query)["text"][0]
    assert text == TEXT.replace(LINK, "http://testserver/r/Ab12Cd34")
    assert links.text == text
    assert links.copy_text_first is False


def test_facebook_gets_the_sharer_with_the_tracking_link_and_copies_text_first() -> None:
    links = share_links(*_pair("facebook"))
    parts = urlsplit(links.share_url or "")
    assert parts.netloc == "www.facebook.com"
    assert parse_qs(parts.query) == {"u": ["http://testserver/r/Ab12Cd34"]}
    assert links.copy_text_first is True


def test_instagram_has_no_share_url_but_an_image_and_a_caption() -> None:
    links = share_links(*_pair("instagram", image_path="2026/umkm.jpg"))
    assert links.share_url is None
    assert links.image_url == "/media/2026/umkm.jpg"
    assert "#UMKMGoDigital" in links.text
    assert links.copy_text_first is True


def test_text_without_the_post_link_is_left_as_written() -> None:
    assignment, post, _ = _pair("x")
    text = "Tanpa tautan #UMKMGoDigital"
    assert share_links(assignment, post, text).text == "Tanpa tautan #UMKMGoDigital"


OFFICIAL_X = "https://x.com/KemkomdigiRI/status/1790000000000000042?s=20"
OFFICIAL_FB = "https://www.facebook.com/kemkomdigi/posts/pfbid0abcdefghijkLMNOP"


def test_x_with_an_official_post_offers_repost_and_quote_of_it() -> None:
    assignment, post, text = _pair("x")
    post.official_url_x = OFFICIAL_X
    links = share_links(assignment, post, text)
    assert links.repost_url == "https://x.com/intent/retweet?tweet_id=1790000000000000042"
    quote = urlsplit(links.quote_url or "")
    assert f"{quote.scheme}://{quote.netloc}{quote.path}" == "https://x.com/intent/post"
    assert parse_qs(quote.query) == {"url": [OFFICIAL_X]}
    assert links.official_url == OFFICIAL_X
    assert (links.share_url or "").startswith("https://twitter.com/intent/tweet?text=")


def test_x_without_an_official_post_offers_only_the_own_post() -> None:
    links = share_links(*_pair("x"))
    assert (links.repost_url, links.quote_url, links.official_url) == (None, None, None)


def test_an_official_x_url_that_is_no_post_link_falls_back_to_the_own_post() -> None:
    assignment, post, text = _pair("x")
    post.official_url_x = "https://x.com/KemkomdigiRI"
    links = share_links(assignment, post, text)
    assert (links.repost_url, links.quote_url, links.official_url) == (None, None, None)
    assert links.share_url is not None


def test_facebook_with_an_official_post_shares_it_and_keeps_the_campaign_link() -> None:
    assignment, post, text = _pair("facebook")
    post.official_url_facebook = OFFICIAL_FB
    links = share_links(assignment, post, text)
    assert parse_qs(urlsplit(links.official_share_url or "").query) == {"u": [OFFICIAL_FB]}
    assert parse_qs(urlsplit(links.share_url or "").query) == {
        "u": ["http://testserver/r/Ab12Cd34"]
    }
    assert (links.repost_url, links.quote_url) == (None, None)


def test_instagram_with_an_official_post_is_still_the_hand_off() -> None:
    assignment, post, text = _pair("instagram")
    post.official_url_instagram = "https://www.instagram.com/p/Cabcdef123/"
    links = share_links(assignment, post, text)
    assert (links.share_url, links.repost_url, links.official_share_url) == (None, None, None)
