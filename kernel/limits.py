"""Per-platform limits, kept as data so a change in a platform's rules is a one-line edit."""

from __future__ import annotations

from dataclasses import dataclass


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
    "x": PlatformLimits(slug="x", name="X", max_chars=280, weighted=True),
    "facebook": PlatformLimits(slug="facebook", name="Facebook", max_chars=63_206),
    "instagram": PlatformLimits(
        slug="instagram",
        name="Instagram",
        max_chars=2_200,
        max_hashtags=30,
        image_required=True,
    ),
}


def display_name(slug: str) -> str:
    """The platform's name as people write it ("X", "Facebook"); unknown slugs as given."""
    limits = LIMITS.get(slug)
    return limits.name if limits else slug
