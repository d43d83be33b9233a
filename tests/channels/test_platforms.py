"""The social platform contract: errors, registry and connection status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from channels import platforms
from channels.platforms import (
    AccountGone,
    AuthError,
    ChannelError,
    NotConnected,
    PostGone,
    RateLimited,
    SocialPlatform,
    Unverifiable,
)
from gaung import i18n
from gaung.errors import GaungError
from gaung.settings import get_settings


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("GAUNG_X__BEARER_TOKEN", "GAUNG_GRAPH__ACCESS_TOKEN"):
        monkeypatch.setenv(name, "")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "error_type", [ChannelError, NotConnected, Unverifiable, AuthError, PostGone, AccountGone]
)
def test_channel_errors_are_user_facing_and_name_the_platform(
    error_type: type[ChannelError],
) -> None:
    error = error_type("instagram", "HTTP 500 from upstream")

    assert isinstance(error, GaungError)
    assert error.platform == "instagram"
    assert error.params["platform"] == "Instagram"
    assert "Instagram" in error.render(lambda m: m)
    assert "HTTP 500 from upstream" in str(error)  # detail is for logs
    assert "HTTP 500" not in error.render(lambda m: m)  # but not shown to users


def test_channel_errors_render_in_indonesian() -> None:
    error = PostGone("x")

    with i18n.use_locale("id"):
        indonesian = error.render(i18n.gettext)

    assert indonesian != error.render(lambda m: m)
    assert "X" in indonesian


def test_rate_limited_carries_the_reset_time() -> None:
    reset = datetime(2026, 1, 1, 0, 15, tzinfo=UTC)

    error = RateLimited("x", reset)

    assert isinstance(error, ChannelError)
    assert error.reset_at == reset
    assert "2026-01-01T00:15:00" in str(error)


def test_every_registered_slug_builds_a_social_platform(no_credentials: None) -> None:
    assert set(platforms.PLATFORMS) == {"x", "facebook", "instagram"}
    for slug in platforms.PLATFORMS:
        platform = platforms.get_platform(slug)
        assert isinstance(platform, SocialPlatform)
        assert platform.slug == slug


def test_unknown_platform_is_a_field_error() -> None:
    with pytest.raises(GaungError) as caught:
        platforms.get_platform("myspace")

    assert caught.value.field == "platform"


def test_status_reports_not_connected_without_credentials(no_credentials: None) -> None:
    assert platforms.status() == {"x": False, "facebook": False, "instagram": False}


def test_status_reads_settings_at_use_time(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert platforms.status()["x"] is False

    monkeypatch.setenv("GAUNG_X__BEARER_TOKEN", "now-configured")
    get_settings.cache_clear()

    assert platforms.status()["x"] is True
