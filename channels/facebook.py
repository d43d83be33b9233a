"""Facebook through the Graph API, with the agency's Page access token.

What the platform allows, and so what this module can do:

- Graph cannot list who shared a Page post, so ``find_reposts`` is unsupported and returns
  ``([], None, 0)``; reposts are known from the ASN's submitted link and tracked clicks.
- Reading a post needs a token that may see it. The Page token sees the Page's own posts and
  other public Pages' posts; a post on a *personal profile* needs that person's token, so a
  submitted permalink of an ASN's personal post usually raises ``Unverifiable`` and the caller
  records it as "reported, unverified". Links with obfuscated ``pfbid`` ids or ``/share/``
  short links cannot be resolved through Graph at all and are ``Unverifiable`` too.
- ``metrics`` is for the agency's own Page posts (Page insights need the Page's token).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

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

SLUG = "facebook"
POST_FIELDS = "id,message,created_time,permalink_url,from{id,name},parent_id"
COUNT_FIELDS = (
    "shares,reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
)
# Meta replaced "impressions" with "views" (post_impressions retired 2025-11-15); try the
# current metric first and keep the old one for API versions that still serve it.
IMPRESSION_METRICS = ("post_media_view", "post_impressions")
INVALID_METRIC_CODE = 100
_FB_HOSTS = re.compile(r"(^|\.)(facebook\.com|fb\.com|fb\.watch)$")
_POST_ID = re.compile(r"^\d+(_\d+)?$")


@dataclass(frozen=True)
class _Target:
    """A post reference parsed from a permalink: ``owner`` is a page id or username."""

    owner: str | None
    post_id: str


def parse_permalink(value: str) -> _Target:
    """The owner and post id in a Facebook post id or permalink.

    Raises Unverifiable for links Graph cannot resolve (pfbid ids, /share/ short links).
    """
    value = value.strip()
    if _POST_ID.match(value):
        owner, _, post = value.rpartition("_")
        return _Target(owner or None, post if owner else value)
    parts = urlsplit(value if "://" in value else f"https://{value}")
    if not _FB_HOSTS.search((parts.hostname or "").lower()):
        raise Unverifiable(SLUG, "not a Facebook link")
    query = parse_qs(parts.query)
    segments = [s for s in parts.path.split("/") if s]
    story = query.get("story_fbid", [""])[0] or query.get("fbid", [""])[0]
    if story.isdigit():
        return _Target(query.get("id", [None])[0], story)
    # /{owner}/posts/{id}, /{owner}/videos/{id}, /{owner}/photos/{album}/{id}
    if (
        len(segments) >= 3
        and segments[1] in ("posts", "videos", "photos")
        and segments[-1].isdigit()
    ):
        return _Target(segments[0], segments[-1])
    raise Unverifiable(SLUG, "link has no numeric post id (pfbid or share link)")


def _parse_time(value: Any) -> datetime | None:
    """Graph timestamps look like 2024-01-15T08:30:00+0000."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class FacebookPlatform:
    """The SocialPlatform for Facebook; ``client`` is None when no token is configured."""

    slug = SLUG

    def __init__(self, client: GraphClient | None) -> None:
        self.client = client
        self._impression_metric: str | None = IMPRESSION_METRICS[0]

    def connected(self) -> bool:
        return self.client is not None

    def _graph(self) -> GraphClient:
        if self.client is None:
            raise NotConnected(SLUG, "no Graph access token configured")
        return self.client

    def _get(self, path: str, params: dict[str, str | int]) -> dict[str, Any]:
        try:
            return self._graph().get(path, params)
        except GraphError as exc:
            raise to_channel_error(SLUG, exc) from None

    def lookup_account(self, handle: str) -> AccountInfo:
        """A Page (id or username) with its follower count; profiles are not readable."""
        key = handle.strip().lstrip("@")
        try:
            data = self._graph().get(key, {"fields": "id,name,username,about,followers_count"})
        except (GraphNotFound, GraphPermissionError) as exc:
            # Personal profiles answer like a missing object to a Page token.
            raise Unverifiable(SLUG, str(exc)) from None
        except GraphError as exc:
            raise to_channel_error(SLUG, exc) from None
        return AccountInfo(
            platform=SLUG,
            user_id=str(data["id"]),
            handle=str(data.get("username") or data.get("name") or key),
            followers=_int(data.get("followers_count")),
            bio=data.get("about") if isinstance(data.get("about"), str) else None,
        )

    def fetch_post(self, post_id_or_url: str, author_handle: str | None = None) -> PostRef:
        """A post by ``{page-id}_{post-id}`` or permalink (see the module notes on limits).

        ``author_handle`` is not needed: a Page post's id or link names its Page.
        """
        target = parse_permalink(post_id_or_url)
        if target.owner is None:
            graph_id = target.post_id
        elif _POST_ID.match(post_id_or_url.strip()):
            graph_id = f"{target.owner}_{target.post_id}"
        else:
            # A link's owner must be a Page we can see: a profile's post answers "does not
            # exist" to a Page token, which must not be mistaken for a deleted post.
            graph_id = f"{self.lookup_account(target.owner).user_id}_{target.post_id}"
        data = self._get(graph_id, {"fields": POST_FIELDS})
        author = data.get("from") or {}
        parent = data.get("parent_id")
        return PostRef(
            platform=SLUG,
            post_id=str(data.get("id") or graph_id),
            url=str(data.get("permalink_url") or post_id_or_url),
            author_id=str(author["id"]) if author.get("id") else None,
            author_handle=author.get("name"),
            created_at=_parse_time(data.get("created_time")),
            text=str(data.get("message") or ""),
            referenced_post_ids=(str(parent),) if parent else (),
        )

    def find_reposts(
        self, official_post_id: str, since_id: str | None = None
    ) -> tuple[list[RepostMatch], str | None, int]:
        """Unsupported: Graph offers no list of the people who shared a Page post."""
        return [], None, 0

    def metrics(self, post_ids: Sequence[str]) -> dict[str, Metrics]:
        """Counts for the agency's own Page posts; deleted or unreadable posts are absent."""
        result: dict[str, Metrics] = {}
        for post_id in post_ids:
            try:
                counts = self._graph().get(post_id, {"fields": COUNT_FIELDS})
            except (GraphNotFound, GraphPermissionError):
                continue
            except GraphError as exc:
                raise to_channel_error(SLUG, exc) from None
            result[post_id] = Metrics(
                impressions=self._impressions(post_id),
                likes=_summary_total(counts.get("reactions")),
                reposts=_int((counts.get("shares") or {}).get("count")),
                replies=_summary_total(counts.get("comments")),
            )
        return result

    def _impressions(self, post_id: str) -> int | None:
        """The post's views, trying the next metric name when Meta retired one."""
        while self._impression_metric is not None:
            metric = self._impression_metric
            try:
                data = self._graph().get(f"{post_id}/insights", {"metric": metric})
            except (GraphNotFound, GraphPermissionError):
                return None
            except GraphError as exc:
                if exc.code != INVALID_METRIC_CODE:
                    raise to_channel_error(SLUG, exc) from None
                self._impression_metric = _next_metric(metric)
                continue
            return _insight_value(data, metric)
        return None


def _next_metric(metric: str) -> str | None:
    index = IMPRESSION_METRICS.index(metric) + 1
    return IMPRESSION_METRICS[index] if index < len(IMPRESSION_METRICS) else None


def _summary_total(edge: Any) -> int | None:
    if not isinstance(edge, dict):
        return None
    return _int((edge.get("summary") or {}).get("total_count"))


def _insight_value(data: dict[str, Any], metric: str) -> int | None:
    """The lifetime value of ``metric`` in an insights answer ({"data": [{"name", "values"}]})."""
    for item in data.get("data", []):
        if item.get("name") == metric and item.get("values"):
            return _int(item["values"][-1].get("value"))
    return None


def from_settings(settings: GraphSettings | None = None) -> FacebookPlatform:
    graph = settings or overlay("graph", get_settings().graph)
    if not graph.access_token:
        return FacebookPlatform(None)
    client = GraphClient(graph.version, graph.access_token, graph.app_secret, graph.base_url)
    return FacebookPlatform(client)
