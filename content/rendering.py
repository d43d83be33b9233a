"""Per-platform rendering of a post, its measurement against platform limits, and validation.

Every platform gets the master text unless the editor wrote the platform its own text
(e.g. a shorter X text), and may get up to five alternative captions, each written by a
person and approved with the post (content.models.PostVariant); nothing is generated or
"spun". The frame around every text is the same: where the link goes, how hashtags and
the disclosure tag are laid out, so each variant keeps the tracking link and hashtags
that verification looks for.

The dispatcher renders once per platform with ``tracking_url=TRACKING_PLACEHOLDER``
and then puts each ASN's personal URL in with ``fill_tracking_url`` (a plain
``str.replace``). That keeps the length validated at approval time true for every ASN:
on X any recognised URL weighs 23, and where a URL is not recognised (an IP-address
``base_url`` in development) the sample URL used by ``preview``/``validate`` has the
same shape and length as a real one (``SAMPLE_TRACKING_CODE`` has the code length).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import jinja2
from twitter_text import parse_tweet

from content.models import CampaignKind, Post
from gaung.errors import N_, GaungError
from gaung.i18n import gettext as _
from gaung.settings import PROJECT_ROOT, get_settings
from kernel.limits import LIMITS, PlatformLimits
from roster.models import Agency

TEMPLATE_DIR = PROJECT_ROOT / "templates" / "platforms"
# A URL twitter-text recognises (so it weighs 23 on X like a real tracking URL) on a
# domain reserved for documentation, so a placeholder that ever leaked harms no one.
TRACKING_PLACEHOLDER = "https://example.org/gaung-tracking-url-placeholder"
# Same length as the personal tracking codes the dispatcher issues.
SAMPLE_TRACKING_CODE = "X" * 12
# A hashtag as Instagram counts it: '#' then word characters, not inside a URL or word.
_HASHTAG = re.compile(r"(?<![\w/&#])#\w+")

Variants = Mapping[str, Mapping[int, str]]
"""A post's own texts: {platform: {position: text}}; 0 = own text, 1..5 alternatives."""


class RenditionError(GaungError):
    """A post cannot be rendered for a platform, or breaks that platform's limits."""


@dataclass
class Rendition:
    platform: str
    text: str
    length: int
    limit: int
    error: str | None = None
    # Which text: 0 the platform's own text (or the master text), 1..5 an alternative.
    position: int = 0
    # The field an error belongs to (master_text, text_x, variant_x_2, image, hashtags).
    field: str | None = None


def x_weighted_length(text: str) -> int:
    """Length as X counts it: URLs 23, CJK and other non-Latin 2, an emoji sequence 2."""
    return int(parse_tweet(text).weightedLength)


def limits_for(platform: str) -> PlatformLimits:
    try:
        return LIMITS[platform]
    except KeyError:
        raise RenditionError(
            "Unknown platform: %(platform)s.", field="platforms", platform=platform
        ) from None


def measure(platform: str, text: str) -> int:
    """The figure the platform compares with its limit."""
    if limits_for(platform).weighted:
        return x_weighted_length(text)
    return len(text)


def count_hashtags(text: str) -> int:
    return len(_HASHTAG.findall(text))


def check_link(link: str | None) -> None:
    """A post's link, when given, must be a full http(s) address with a host."""
    if link is None:
        return
    try:
        parts = urlsplit(link)
        host = parts.hostname
    except ValueError:  # e.g. a broken IPv6 literal such as "http://["
        host = None
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not host
        or any(ch.isspace() for ch in link)
    ):
        raise RenditionError(
            "The link must be a full http:// or https:// address.", field="link", link=link
        )


def sample_tracking_url() -> str:
    return f"{get_settings().base_url.rstrip('/')}/r/{SAMPLE_TRACKING_CODE}"


def fill_tracking_url(text: str, tracking_url: str) -> str:
    """Put one ASN's tracking URL into a text rendered with TRACKING_PLACEHOLDER."""
    return text.replace(TRACKING_PLACEHOLDER, tracking_url)


def disclosure_tag_for(agency: Agency) -> str:
    return agency.disclosure_tag or get_settings().disclosure_tag


@lru_cache
def environment() -> jinja2.Environment:
    """Plain-text templates: no HTML escaping, and a missing variable is an error."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - post text, never HTML
        keep_trailing_newline=False,
    )


def _hashtags(post: Post, disclosure_tag: str) -> list[str]:
    # The disclosure tag is appended by the template; do not repeat it as a hashtag.
    tag = disclosure_tag.lstrip("#").casefold()
    return [f"#{name}" for name in post.hashtag_list() if name.casefold() != tag]


def platform_texts(post: Post, platform: str, variants: Variants | None) -> list[tuple[int, str]]:
    """(position, text) of every text ``platform`` gets: its own text or the master text
    first (position 0), then the alternatives in order."""
    own = dict((variants or {}).get(platform, {}))
    first = own.pop(0, None) or post.master_text
    return [(0, first), *sorted(own.items())]


def variant_field(platform: str, position: int, *, own: bool) -> str:
    """The form/API field of a text: master_text, text_<platform> or variant_<platform>_<n>."""
    if position == 0:
        return f"text_{platform}" if own else "master_text"
    return f"variant_{platform}_{position}"


def render(
    post: Post,
    platform: str,
    *,
    kind: str,
    disclosure_tag: str,
    tracking_url: str | None,
    text: str | None = None,
) -> str:
    """The text an ASN posts on ``platform``: ``text`` (default: the master text) in the
    platform's frame.

    The link shown is the tracking URL when one is given, which redirects to the post's
    link; a post without a link shows none (a tracking URL would have nowhere to go).
    """
    limits_for(platform)
    context: dict[str, Any] = {
        "text": (post.master_text if text is None else text).strip(),
        "link": post.link,
        "url": (tracking_url or post.link) if post.link else None,
        "tracking_url": tracking_url,
        "hashtags": _hashtags(post, disclosure_tag),
        "disclosure_tag": disclosure_tag,
        "kind": kind,
        "hoax_clarification": kind == CampaignKind.HOAX_CLARIFICATION,
    }
    return environment().get_template(f"{platform}.j2").render(context).strip()


def _check(
    post: Post, platform: str, text: str, position: int = 0, *, own: bool = False
) -> RenditionError | None:
    """The first limit this rendition breaks, if any, naming the text that breaks it.

    ``position``/``own`` say which text it is (see ``variant_field``): the master text,
    the platform's own text or alternative ``position``.
    """
    limits = LIMITS[platform]
    if limits.image_required and not post.image_path:
        return RenditionError("%(platform)s needs an image.", field="image", platform=limits.name)
    field = variant_field(platform, position, own=own)
    hashtags = count_hashtags(text)
    if limits.max_hashtags is not None and hashtags > limits.max_hashtags:
        if field == "master_text":
            return RenditionError(
                "%(platform)s allows at most %(limit)s hashtags; this post has %(actual)s.",
                field="hashtags",
                platform=limits.name,
                limit=limits.max_hashtags,
                actual=hashtags,
            )
        if position == 0:
            message = N_(
                "%(platform)s allows at most %(limit)s hashtags; its own text has %(actual)s."
            )
        else:
            message = N_(
                "%(platform)s allows at most %(limit)s hashtags; "
                "alternative %(number)s has %(actual)s."
            )
        return RenditionError(
            message,
            field=field,
            platform=limits.name,
            limit=limits.max_hashtags,
            actual=hashtags,
            **({"number": position} if position else {}),
        )
    length = measure(platform, text)
    if length > limits.max_chars:
        if field == "master_text":
            message = "%(platform)s text is %(actual)s characters; the limit is %(limit)s."
        elif position == 0:
            message = N_(
                "The own %(platform)s text is %(actual)s characters; the limit is %(limit)s."
            )
        else:
            message = N_(
                "%(platform)s alternative %(number)s is %(actual)s characters; "
                "the limit is %(limit)s."
            )
        return RenditionError(
            message,
            field=field,
            platform=limits.name,
            limit=limits.max_chars,
            actual=length,
            **({"number": position} if position else {}),
        )
    return None


def _rendition(
    post: Post,
    platform: str,
    *,
    kind: str,
    disclosure_tag: str,
    text: str | None = None,
    position: int = 0,
    own: bool = False,
) -> Rendition:
    try:
        rendered = render(
            post,
            platform,
            kind=kind,
            disclosure_tag=disclosure_tag,
            tracking_url=sample_tracking_url(),
            text=text,
        )
    except RenditionError as exc:
        return Rendition(platform, "", 0, 0, exc.render(_), position, exc.field)
    problem = _check(post, platform, rendered, position, own=own)
    return Rendition(
        platform=platform,
        text=rendered,
        length=measure(platform, rendered),
        limit=LIMITS[platform].max_chars,
        error=problem.render(_) if problem else None,
        position=position,
        field=problem.field if problem else None,
    )


def _owns_text(platform: str, variants: Variants | None) -> bool:
    return bool((variants or {}).get(platform, {}).get(0))


def preview(
    post: Post, *, kind: str, disclosure_tag: str, variants: Variants | None = None
) -> list[Rendition]:
    """Every text of every platform rendered with its figures, for the side-by-side
    preview: per platform its own (or the master) text first, then the alternatives."""
    return [
        _rendition(
            post,
            platform,
            kind=kind,
            disclosure_tag=disclosure_tag,
            text=text,
            position=position,
            own=_owns_text(platform, variants),
        )
        for platform in post.platform_list()
        for position, text in platform_texts(post, platform, variants)
    ]


def validate(
    post: Post, *, kind: str, disclosure_tag: str, variants: Variants | None = None
) -> None:
    """Raise RenditionError for the first text of a platform that cannot go out."""
    check_link(post.link)
    platforms = post.platform_list()
    if not platforms:
        raise RenditionError("Choose at least one platform.", field="platforms")
    for platform in platforms:
        own = _owns_text(platform, variants)
        for position, text in platform_texts(post, platform, variants):
            rendered = render(
                post,
                platform,
                kind=kind,
                disclosure_tag=disclosure_tag,
                tracking_url=sample_tracking_url(),
                text=text,
            )
            problem = _check(post, platform, rendered, position, own=own)
            if problem is not None:
                raise problem
