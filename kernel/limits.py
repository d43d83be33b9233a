"""Per-platform limits, kept as data so a change in a platform's rules is a one-line edit."""

from __future__ import annotations

from dataclasses import dataclass

from gaung.settings import PLATFORM_NAMES


@dataclass(frozen=True)
class PlatformLimits:
    slug: str
    name: str
    # Maximum text length; on X it is the weighted length (URLs 23, CJK and emoji 2).
    max_chars: int
    weighted: bool = False
    max_hashtags: int | None = None
    image_required: bool = False


LIMITS: dict[str, PlatformLimits] = {
    "x": PlatformLimits(slug="x", name=PLATFORM_NAMES["x"], max_chars=280, weighted=True),
    "facebook": PlatformLimits(slug="facebook", name=PLATFORM_NAMES["facebook"], max_chars=63_206),
    "instagram": PlatformLimits(
        slug="instagram",
        name=PLATFORM_NAMES["instagram"],
        max_chars=2_200,
        max_hashtags=30,
        image_required=True,
    ),
}


def display_name(slug: str) -> str:
    """The platform's name as people write it ("X", "Facebook"); unknown slugs as given."""
    return PLATFORM_NAMES.get(slug, slug)
