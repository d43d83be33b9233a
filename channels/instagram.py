"""Instagram through the official Instagram Graph API (professional accounts only).

The agency's own Instagram professional account (``ig_user_id``, linked to the Page whose
token is configured) is the vantage point: business discovery reads *other* professional
accounts by username (followers, recent media with permalinks), and insights are readable for
the agency's own media only.

Limits, by the platform: personal (non-professional) accounts are invisible, so their posts are
``Unverifiable``; an Instagram permalink (``/p/{shortcode}/``) does not name its author, so a
shortcode is only findable when the handle is known (the ``author_handle`` argument, else
the link).
Instagram has no reshare API, so ``find_reposts`` returns ``([], None, 0)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from assignments.metrics import Metrics
from channels.credentials import overlay
from channels.graph import (
    GraphClient,
    GraphError,
    GraphNotFound,
    GraphPermissionError,
    to_channel_error,
)
from channels.platforms import AccountInfo, NotConnected, PostRef, RepostMatch, Unverifiable
from gaung.settings import GraphSettings, get_settings

SLUG = "instagram"
MEDIA_FIELDS = "id,permalink,caption,timestamp,username"
DISCOVERY = (
    "business_discovery.username({handle}){{id,username,biography,followers_count,media_count,"
    "media{paging}{{{fields}}}}}"
)
MAX_DISCOVERY_PAGES = 3  # reposts are recent; older media is not worth the calls
# "impressions" was retired for media in v22.0 in favour of "views"; shares is newer.
VIEW_METRICS = ("views", "impressions")
INVALID_METRIC_CODE = 100
_SHORTCODE = re.compile(r"^/(?:(?P<user>[A-Za-z0-9._]+)/)?(?:p|reel|reels|tv)/(?P<code>[\w-]+)")
_HOSTS = ("instagram.com", "www.instagram.com", "m.instagram.com")


def parse_permalink(url: str) -> tuple[str | None, str]:
    """(username if the link names one, shortcode) of an Instagram post or reel link."""
    parts = urlsplit(url.strip() if "://" in url else f"https://{url.strip()}")
    match = _SHORTCODE.match(parts.path)
    if (parts.hostname or "").lower() not in _HOSTS or not match:
        raise Unverifiable(SLUG, "not an Instagram post link")
    return match.group("user"), match.group("code")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _media_ref(media: dict[str, Any], author_id: str | None) -> PostRef:
    return PostRef(
        platform=SLUG,
        post_id=str(media["id"]),
        url=str(media.get("permalink") or ""),
        author_id=author_id,
        author_handle=media.get("username"),
        created_at=_parse_time(media.get("timestamp")),
        text=str(media.get("caption") or ""),
    )


class InstagramPlatform:
    """The SocialPlatform for Instagram; ``client`` is None when not configured."""

    slug = SLUG

    def __init__(self, client: GraphClient | None, ig_user_id: str) -> None:
        self.client = client if ig_user_id else None
        self.ig_user_id = ig_user_id
        self._view_metric: str | None = VIEW_METRICS[0]

    def connected(self) -> bool:
        return self.client is not None

    def _graph(self) -> GraphClient:
        if self.client is None:
            raise NotConnected(SLUG, "no Graph access token or Instagram user id configured")
        return self.client

    def _discover(self, handle: str, media_paging: str = "") -> dict[str, Any]:
        """The business_discovery object of a professional account."""
        fields = DISCOVERY.format(
            handle=handle.strip().lstrip("@"), paging=media_paging, fields=MEDIA_FIELDS
        )
        try:
            data = self._graph().get(self.ig_user_id, {"fields": fields})
        except (GraphNotFound, GraphPermissionError) as exc:
            raise Unverifiable(SLUG, str(exc)) from None
        except GraphError as exc:
            # Business discovery answers 110/2207013 for personal or unknown accounts.
            if exc.code in (100, 110):
                raise Unverifiable(SLUG, str(exc)) from None
            raise to_channel_error(SLUG, exc) from None
        discovered: dict[str, Any] = data.get("business_discovery") or {}
        return discovered

    def lookup_account(self, handle: str) -> AccountInfo:
        account = self._discover(handle, ".limit(0)")
        return AccountInfo(
            platform=SLUG,
            user_id=str(account.get("id") or ""),
            handle=str(account.get("username") or handle.lstrip("@")),
            followers=_int(account.get("followers_count")),
            bio=account.get("biography") if isinstance(account.get("biography"), str) else None,
        )

    def fetch_post(self, post_id_or_url: str, author_handle: str | None = None) -> PostRef:
        """A media item by id (the agency's own) or by permalink of a professional account.

        A permalink is looked up among the recent media of ``author_handle`` (the enrolled
        account the post should belong to) through business discovery, or of the username the
        link names when no handle is given. A personal account answers 110/2207013:
        ``Unverifiable``.
        """
        value = post_id_or_url.strip()
        if value.isdigit():
            try:
                media = self._graph().get(value, {"fields": MEDIA_FIELDS})
            except GraphError as exc:
                raise to_channel_error(SLUG, exc) from None
            return _media_ref(media, None)
        user, shortcode = parse_permalink(value)
        owner = (author_handle or "").strip().lstrip("@") or user
        if not owner:
            raise Unverifiable(SLUG, "an Instagram link does not name its author")
        return self._find_by_shortcode(owner, shortcode)

    def _find_by_shortcode(self, handle: str, shortcode: str) -> PostRef:
        paging = ""
        for _ in range(MAX_DISCOVERY_PAGES):
            account = self._discover(handle, paging)
            media = account.get("media") or {}
            for item in media.get("data", []):
                if shortcode in str(item.get("permalink") or "").split("/"):
                    return _media_ref(item, str(account.get("id") or "") or None)
            after = ((media.get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (media.get("paging") or {}).get("next"):
                break
            paging = f".after({after})"
        raise Unverifiable(SLUG, "media not among the account's recent posts")

    def find_reposts(
        self, official_post_id: str, since_id: str | None = None
    ) -> tuple[list[RepostMatch], str | None, int]:
        """Unsupported: Instagram has no API listing reshares of a post."""
        return [], None, 0

    def metrics(self, post_ids: Sequence[str]) -> dict[str, Metrics]:
        """Counts for the agency's own media; deleted or unreadable media are absent."""
        result: dict[str, Metrics] = {}
        for media_id in post_ids:
            try:
                media = self._graph().get(media_id, {"fields": "like_count,comments_count"})
            except (GraphNotFound, GraphPermissionError):
                continue
            except GraphError as exc:
                raise to_channel_error(SLUG, exc) from None
            result[media_id] = Metrics(
                impressions=self._views(media_id),
                likes=_int(media.get("like_count")),
                reposts=self._shares(media_id),
                replies=_int(media.get("comments_count")),
            )
        return result

    def _insight(self, media_id: str, metric: str) -> int | None:
        """One insights metric; raises GraphError with code 100 when the metric is retired."""
        data = self._graph().get(f"{media_id}/insights", {"metric": metric})
        for item in data.get("data", []):
            if item.get("name") == metric and item.get("values"):
                return _int(item["values"][-1].get("value"))
        return None

    def _views(self, media_id: str) -> int | None:
        while self._view_metric is not None:
            metric = self._view_metric
            try:
                return self._insight(media_id, metric)
            except (GraphNotFound, GraphPermissionError):
                return None
            except GraphError as exc:
                if exc.code != INVALID_METRIC_CODE:
                    raise to_channel_error(SLUG, exc) from None
                index = VIEW_METRICS.index(metric) + 1
                self._view_metric = VIEW_METRICS[index] if index < len(VIEW_METRICS) else None
        return None

    def _shares(self, media_id: str) -> int | None:
        try:
            return self._insight(media_id, "shares")
        except (GraphNotFound, GraphPermissionError):
            return None
        except GraphError as exc:
            if exc.code != INVALID_METRIC_CODE:
                raise to_channel_error(SLUG, exc) from None
            return None  # not offered for this media type or API version


def ig_user_id(settings: GraphSettings) -> str:
    """The agency's Instagram professional account id (GAUNG_GRAPH__IG_USER_ID)."""
    return settings.ig_user_id


def from_settings(settings: GraphSettings | None = None) -> InstagramPlatform:
    """The Graph backend; the composition root picks instagrapi instead when configured."""
    graph = settings or overlay("graph", get_settings().graph)
    user_id = ig_user_id(graph)
    if not graph.access_token or not user_id:
        return InstagramPlatform(None, user_id)
    client = GraphClient(graph.version, graph.access_token, graph.app_secret, graph.base_url)
    return InstagramPlatform(client, user_id)
