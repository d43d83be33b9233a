"""The contract every social platform channel (x, facebook, instagram) implements.

Callers (the verify and measure jobs, the inbox's link check) only see these types, so a
platform without credentials or without an API for something degrades the same way everywhere:

- ``NotConnected``: no credentials configured; fall back (submitted link, clicks).
- ``Unverifiable``: the platform offers no way to check this (e.g. another user's personal post).
- ``RateLimited``: try again at ``reset_at`` (jobs turn it into ``RetryLater``, never sleep).
- ``AuthError``: the configured token is expired or invalid; an operator must fix settings.
- ``PostGone``: the post was deleted or never existed.
- ``AccountGone``: the looked-up account does not exist or is suspended.

Each module ``channels/<slug>.py`` defines ``from_settings() -> SocialPlatform``; the
composition root (``wiring``) registers it under its slug, and the registry calls it at use
time, so settings are read when the platform is used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from assignments.metrics import Metrics
from gaung.errors import N_, GaungError
from kernel.limits import display_name

RepostKind = Literal["repost", "quote"]


@dataclass(frozen=True)
class AccountInfo:
    platform: str
    user_id: str
    handle: str
    followers: int | None
    # The profile text (X description, Instagram biography, Facebook Page "about"), where an
    # ASN puts their ownership code; None when the platform did not return one.
    bio: str | None = None


@dataclass(frozen=True)
class PostRef:
    platform: str
    post_id: str
    url: str
    author_id: str | None  # None when only a keyless lookup (oEmbed) was possible
    author_handle: str | None
    created_at: datetime | None  # aware UTC when known
    text: str
    referenced_post_ids: tuple[str, ...] = ()  # reposted / quoted / replied-to posts


@dataclass(frozen=True)
class RepostMatch:
    post: PostRef
    kind: RepostKind


class ChannelError(GaungError):
    """A platform call failed; ``detail`` is for logs (never put secrets in it)."""

    default_message = N_("%(platform)s could not be reached. Please try again later.")

    def __init__(
        self, platform: str, detail: str = "", *, message: str | None = None, **params: Any
    ) -> None:
        super().__init__(message or self.default_message, platform=display_name(platform), **params)
        self.platform = platform
        self.detail = detail
        if detail:
            self.args = (f"{self.args[0]} ({detail})",)


class NotConnected(ChannelError):  # noqa: N818 - contract name
    default_message = N_("%(platform)s is not connected.")


class Unverifiable(ChannelError):  # noqa: N818 - contract name
    default_message = N_("%(platform)s does not allow checking this post automatically.")


class AuthError(ChannelError):
    default_message = N_("The %(platform)s access token is expired or invalid.")


class PostGone(ChannelError):  # noqa: N818 - contract name
    default_message = N_("This %(platform)s post was deleted or does not exist.")


class AccountGone(ChannelError):  # noqa: N818 - contract name
    default_message = N_("This %(platform)s account does not exist or is suspended.")


class RateLimited(ChannelError):  # noqa: N818 - contract name
    default_message = N_("%(platform)s rate limit reached. Retrying after %(reset_at)s.")

    def __init__(self, platform: str, reset_at: datetime, detail: str = "") -> None:
        super().__init__(platform, detail, reset_at=reset_at.isoformat(timespec="seconds"))
        self.reset_at = reset_at


@runtime_checkable
class SocialPlatform(Protocol):
    slug: str

    def connected(self) -> bool:
        """True when credentials are configured (not a network check)."""
        ...

    def lookup_account(self, handle: str) -> AccountInfo: ...

    def fetch_post(self, post_id_or_url: str, author_handle: str | None = None) -> PostRef:
        """The post behind an id or link.

        ``author_handle`` is the enrolled account's handle, when the caller knows whose post
        it should be: Instagram's official API can only find a permalink among that
        professional account's media (business discovery); other platforms may ignore it.
        """
        ...

    def find_reposts(
        self, official_post_id: str, since_id: str | None = None
    ) -> tuple[list[RepostMatch], str | None, int]:
        """Reposts and quotes of an official post newer than ``since_id``.

        Returns (matches, newest id seen or None, API calls made); platforms that cannot list
        reposts return ``([], None, 0)``.
        """
        ...

    def metrics(self, post_ids: Sequence[str]) -> dict[str, Metrics]:
        """Metrics keyed by post id; ids the platform did not return are absent."""
        ...


# Slug -> factory building the platform from current settings (read at use time). Filled by
# the composition root (wiring.wire); nothing registers itself on import.
PLATFORMS: dict[str, Callable[[], SocialPlatform]] = {}


def register(slug: str, factory: Callable[[], SocialPlatform]) -> None:
    PLATFORMS[slug] = factory


def get_platform(slug: str) -> SocialPlatform:
    """A platform built from current settings; unknown slugs raise GaungError."""
    factory = PLATFORMS.get(slug)
    if factory is None:
        raise GaungError(N_("Unknown platform: %(platform)s."), field="platform", platform=slug)
    return factory()


def status() -> dict[str, bool]:
    """Slug → connected, for the console's "not connected" badges."""
    return {slug: factory().connected() for slug, factory in PLATFORMS.items()}
