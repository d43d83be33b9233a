"""One-tap share links for the ASN inbox. Gaung never posts for anyone: it prepares.

X takes prefilled text through its documented intent URL; Facebook's sharer
accepts only a link (prefilled text is forbidden), so the inbox offers "copy
text" first; Instagram has no web intent at all: the ASN downloads the image
and pastes the caption.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from assignments.models import Assignment
from content.models import Post
from gaung.settings import get_settings

X_INTENT = "https://twitter.com/intent/tweet"
FACEBOOK_SHARER = "https://www.facebook.com/sharer/sharer.php"


@dataclass(frozen=True)
class ShareLinks:
    platform: str
    text: str  # what the ASN copies (the caption on Instagram)
    tracking_url: str  # personal link that counts clicks, then redirects to the post link
    share_url: str | None  # X intent or Facebook sharer; None on Instagram
    image_url: str | None  # the post's image to download, when it has one
    copy_text_first: bool  # the share target cannot take the text itself


def tracking_url(code: str) -> str:
    base = get_settings().base_url.rstrip("/")
    return f"{base}/r/{quote(code, safe='')}"


def share_links(assignment: Assignment, post: Post) -> ShareLinks:
    personal = tracking_url(assignment.code)
    text = _with_tracking_link(assignment.text, post.link, personal)
    image = f"/media/{post.image_path}" if post.image_path else None
    if assignment.platform == "x":
        share: str | None = f"{X_INTENT}?{urlencode({'text': text})}"
    elif assignment.platform == "facebook":
        share = f"{FACEBOOK_SHARER}?{urlencode({'u': personal})}"
    else:
        share = None
    return ShareLinks(
        platform=assignment.platform,
        text=text,
        tracking_url=personal,
        share_url=share,
        image_url=image,
        copy_text_first=assignment.platform != "x",
    )


def _with_tracking_link(text: str, link: str | None, personal: str) -> str:
    """Swap the post's plain link for the personal one, so clicks can be counted.

    The tracking link redirects to the same page, and X counts every URL as the
    same length, so the text still fits.
    """
    if not link or link not in text:
        return text
    return text.replace(link, personal)
