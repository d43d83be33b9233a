"""One-tap share links for the ASN inbox. Gaung never posts for anyone: it prepares.

Where the agency's own official post exists, sharing *that* post comes first:
on X a repost (``intent/retweet?tweet_id=``) or a quote (``intent/post`` with
the official post's URL), which the per-post X search finds without the ASN
pasting anything; on Facebook the sharer with the official post. A post of
their own (X's intent with the prefilled text, Facebook's sharer with the
personal link) comes last.

X takes prefilled text through its documented intent URL; Facebook's sharer
accepts only a link (prefilled text is forbidden), so the inbox offers "copy
text" first; Instagram has no web intent at all: the ASN downloads the image
and pastes the caption.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from assignments.models import Assignment
from assignments.reporting import parse_repost_url
from content.models import Post
from gaung.errors import GaungError
from gaung.settings import get_settings

X_INTENT = "https://twitter.com/intent/tweet"
X_RETWEET_INTENT = "https://x.com/intent/retweet"
X_QUOTE_INTENT = "https://x.com/intent/post"
FACEBOOK_SHARER = "https://www.facebook.com/sharer/sharer.php"


@dataclass(frozen=True)
class ShareLinks:
    platform: str
    text: str  # what the ASN copies (the caption on Instagram)
    tracking_url: str  # personal link that counts clicks, then redirects to the post link
    share_url: str | None  # X intent or Facebook sharer; None on Instagram
    image_url: str | None  # the post's image to download, when it has one
    copy_text_first: bool  # the share target cannot take the text itself
    # Sharing the agency's official post, offered before the ASN's own post (None without one):
    official_url: str | None = None
    repost_url: str | None = None  # X: retweet intent for the official post's id
    quote_url: str | None = None  # X: a new post quoting the official post
    official_share_url: str | None = None  # Facebook: the sharer with the official post


def tracking_url(code: str) -> str:
    base = get_settings().base_url.rstrip("/")
    return f"{base}/r/{quote(code, safe='')}"


def share_links(assignment: Assignment, post: Post, text: str) -> ShareLinks:
    """``text``: the assignment's text (assignments.texts.assignment_text)."""
    personal = tracking_url(assignment.code)
    text = _with_tracking_link(text, post.link, personal)
    image = f"/media/{post.image_path}" if post.image_path else None
    if assignment.platform == "x":
        share: str | None = f"{X_INTENT}?{urlencode({'text': text})}"
    elif assignment.platform == "facebook":
        share = f"{FACEBOOK_SHARER}?{urlencode({'u': personal})}"
    else:
        share = None
    official = post.official_url(assignment.platform)
    repost = quote_link = official_share = None
    if official and assignment.platform == "x":
        tweet_id = official_tweet_id(official)
        if tweet_id is None:
            official = None  # not a post link: nothing to repost or quote, own post only
        else:
            repost = f"{X_RETWEET_INTENT}?{urlencode({'tweet_id': tweet_id})}"
            quote_link = f"{X_QUOTE_INTENT}?{urlencode({'url': official})}"
    elif official and assignment.platform == "facebook":
        official_share = f"{FACEBOOK_SHARER}?{urlencode({'u': official})}"
    return ShareLinks(
        platform=assignment.platform,
        text=text,
        tracking_url=personal,
        share_url=share,
        image_url=image,
        copy_text_first=assignment.platform != "x",
        official_url=official,
        repost_url=repost,
        quote_url=quote_link,
        official_share_url=official_share,
    )


def official_tweet_id(url: str) -> str | None:
    """The status id in an X post URL (the same parser as reported links), else None."""
    try:
        return parse_repost_url("x", url).post_id
    except GaungError:
        return None


def _with_tracking_link(text: str, link: str | None, personal: str) -> str:
    """Swap the post's plain link for the personal one, so clicks can be counted.

    The tracking link redirects to the same page, and X counts every URL as the
    same length, so the text still fits.
    """
    if not link or link not in text:
        return text
    return text.replace(link, personal)
