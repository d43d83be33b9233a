"""Links to posts on X, Facebook and Instagram: the one parser of their shapes.

Used for an ASN's reported repost (``assignments.reporting``) and for the agency's own
official post per platform (``content.workflow``, hence the console, the JSON API and any
import), so both accept exactly the same shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, urlsplit

from gaung.errors import N_, GaungError
from gaung.settings import PLATFORM_NAMES

MAX_URL_LENGTH = 500  # Assignment.repost_url and Post.official_url_* column size

# Hosts per platform, after lower-casing and dropping a leading "www.".
HOSTS = {
    "x": {"x.com", "twitter.com", "mobile.twitter.com", "mobile.x.com"},
    "instagram": {"instagram.com", "m.instagram.com"},
    "facebook": {
        "facebook.com",
        "m.facebook.com",
        "web.facebook.com",
        "mbasic.facebook.com",
        "touch.facebook.com",
        "fb.com",
        "m.fb.com",
    },
}
# What a person is shown when the official post of a platform has the wrong shape.
OFFICIAL_EXAMPLES = {
    "x": "https://x.com/humas_instansi/status/1790000000000000000",
    "facebook": "https://www.facebook.com/humas.instansi/posts/pfbid02AbCdEfGhIjKlMnOp",
    "instagram": "https://www.instagram.com/p/C7AbCdEfGhI/",
}

_X_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
_X_ID = re.compile(r"[0-9]{1,25}")
_IG_HANDLE = re.compile(r"[A-Za-z0-9._]{1,30}")
_IG_CODE = re.compile(r"[A-Za-z0-9_-]{5,60}")
_IG_KINDS = {"p", "reel", "reels", "tv"}
_FB_HANDLE = re.compile(r"[A-Za-z0-9.]{1,80}")
_FB_ID = re.compile(r"(?:[0-9]{1,30}|pfbid[A-Za-z0-9]{10,80})")
_FB_TOKEN = re.compile(r"[A-Za-z0-9_-]{4,60}")


@dataclass(frozen=True)
class PostLink:
    """A post's canonical identity (``key``) and the account in its URL, if any."""

    key: str
    handle: str | None
    post_id: str | None


def parse_post_url(platform: str, url: str, *, field: str = "repost_url") -> PostLink:
    """Recognise a link to a post on ``platform``; query strings and fragments are ignored.

    Raises GaungError(field=field) with a message saying what is wrong.
    """
    if platform not in HOSTS:
        raise ValueError(f"unknown platform {platform!r}")
    parts = _split(url, field)
    host = (parts.hostname or "").removeprefix("www.")
    if host not in HOSTS[platform]:
        raise GaungError(
            N_("This is not a %(platform)s link."),
            field=field,
            platform=PLATFORM_NAMES[platform],
        )
    segments = [s for s in parts.path.split("/") if s]
    parsers = {"x": _parse_x, "instagram": _parse_instagram, "facebook": _parse_facebook}
    ref = parsers[platform](segments, parse_qs(parts.query))
    if ref is None:
        raise GaungError(
            N_("This %(platform)s link does not point to a post."),
            field=field,
            platform=PLATFORM_NAMES[platform],
        )
    return ref


def check_official_url(platform: str, url: str) -> PostLink:
    """The agency's own post on ``platform``; a link of another shape or platform is refused.

    The error names the field ``official_url_<platform>`` and shows an example.
    """
    field = f"official_url_{platform}"
    try:
        return parse_post_url(platform, url, field=field)
    except GaungError:
        raise GaungError(
            N_("This is not a link to a post on %(platform)s. Example: %(example)s"),
            field=field,
            platform=PLATFORM_NAMES[platform],
            example=OFFICIAL_EXAMPLES[platform],
        ) from None


def _split(url: str, field: str) -> SplitResult:
    """urlsplit with the errors a person can make turned into messages."""
    text = url.strip()
    if not text:
        raise GaungError(N_("Enter the link to your repost."), field=field)
    if len(text) > MAX_URL_LENGTH:
        raise GaungError(N_("This link is too long."), field=field)
    if "://" not in text and re.match(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}(/|$)", text):
        # Phones often copy links without the scheme ("x.com/..."): accept them.
        text = "https://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - validates the port; raises ValueError when malformed
    except ValueError:
        raise GaungError(N_("This is not a valid link."), field=field) from None
    if parts.scheme.lower() not in ("http", "https"):
        if parts.scheme and "://" in text:
            raise GaungError(N_("The link must start with https:// or http://."), field=field)
        raise GaungError(N_("This is not a valid link."), field=field)
    if not parts.hostname or any(c.isspace() for c in text):
        raise GaungError(N_("This is not a valid link."), field=field)
    return parts


def _parse_x(segments: list[str], _query: dict[str, list[str]]) -> PostLink | None:
    # {handle}/status/{id}[/photo/1...] and the handle-less i/web/status/{id}.
    if len(segments) >= 4 and segments[:3] == ["i", "web", "status"]:
        handle, kind, post_id = None, "status", segments[3]
    elif len(segments) >= 3 and _X_HANDLE.fullmatch(segments[0]):
        handle, kind, post_id = segments[0].lower(), segments[1], segments[2]
    else:
        return None
    if kind not in ("status", "statuses") or not _X_ID.fullmatch(post_id):
        return None
    post_id = post_id.lstrip("0") or "0"
    return PostLink(key=f"x:{post_id}", handle=handle, post_id=post_id)


def _parse_instagram(segments: list[str], _query: dict[str, list[str]]) -> PostLink | None:
    # p|reel|tv/{shortcode} or {handle}/p|reel/{shortcode}; a reel and a post with
    # the same shortcode are the same media, so the key is the shortcode alone.
    handle: str | None = None
    if len(segments) >= 3 and segments[1] in _IG_KINDS and _IG_HANDLE.fullmatch(segments[0]):
        handle, segments = segments[0].lower(), segments[1:]
    if len(segments) < 2 or segments[0] not in _IG_KINDS:
        return None
    code = segments[1]
    if not _IG_CODE.fullmatch(code):
        return None
    return PostLink(key=f"instagram:{code}", handle=handle, post_id=code)


def _parse_facebook(segments: list[str], query: dict[str, list[str]]) -> PostLink | None:
    # A story's id is global, so /{handle}/posts/{id} and
    # permalink.php?story_fbid={id} get the same key.
    if len(segments) == 1 and segments[0] in ("permalink.php", "story.php"):
        story = (query.get("story_fbid") or [""])[0]
        if not _FB_ID.fullmatch(story):
            return None
        return PostLink(key=f"facebook:{story}", handle=None, post_id=story)
    if len(segments) >= 3 and segments[0] == "share" and segments[1] in ("p", "r", "v"):
        token = segments[2]
        if not _FB_TOKEN.fullmatch(token):
            return None
        return PostLink(key=f"facebook:share:{token}", handle=None, post_id=None)
    if len(segments) >= 2 and segments[0] == "reel" and _FB_ID.fullmatch(segments[1]):
        return PostLink(key=f"facebook:{segments[1]}", handle=None, post_id=segments[1])
    if len(segments) >= 3 and segments[1] in ("posts", "videos"):
        handle, post_id = segments[0], segments[2]
        if not _FB_HANDLE.fullmatch(handle) or not _FB_ID.fullmatch(post_id):
            return None
        return PostLink(key=f"facebook:{post_id}", handle=handle.lower(), post_id=post_id)
    return None
