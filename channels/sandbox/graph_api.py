"""The Meta Graph API endpoints Gaung calls for Facebook and Instagram, from the world.

What is readable is what a Page token can read on the real API: Pages and their posts,
professional Instagram accounts through ``business_discovery``, the agency's own media and
their insights. Personal Facebook profiles answer ``(#803)`` and personal Instagram accounts
``110/2207013``, as on the real thing. Errors use Graph's ``{"error": {...}}`` object; usage
is reported in ``X-App-Usage`` and an exhausted window answers code 4.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channels.sandbox import fields as graph_fields
from channels.sandbox.fields import FieldsError, FieldSpec
from channels.sandbox.state import Account, Budget, Post, World, stable_int

OLDEST_VERSION = (19, 0)  # older versions answer "retired" (code 2635)
DEFAULT_MEDIA_LIMIT = 25
_VERSION = re.compile(r"v(\d+)\.(\d+)")
_FB_POST = re.compile(r"\d+_\d+")
FB_INSIGHTS = {
    "post_media_view": "Lifetime Post Media Views",
    "post_impressions_unique": "Lifetime Post Total Reach",
    "post_clicks": "Lifetime Post Clicks",
}
IG_INSIGHTS = {
    "views": "Views",
    "reach": "Accounts reached",
    "likes": "Likes",
    "comments": "Comments",
    "shares": "Shares",
    "saved": "Saved",
    "total_interactions": "Interactions",
}


class GraphFail(Exception):  # noqa: N818 - an answer, not a bug
    def __init__(
        self, status: int, code: int, message: str, subcode: int | None = None, **extra: str
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.subcode, self.extra = status, code, subcode, extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": str(self), "type": "OAuthException", "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error.update(self.extra)
        error["fbtrace_id"] = f"Sb{stable_int('trace', str(self), self.code) % 10**16:016d}"
        return {"error": error}


def _missing(node: str) -> GraphFail:
    message = (
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation."
    )
    return GraphFail(400, 100, message, 33)


def _no_field(name: str, node_type: str) -> GraphFail:
    return GraphFail(400, 100, f"(#100) Tried accessing nonexisting field ({name}) "
                     f"on node type ({node_type})")  # fmt: skip


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S+0000")


class GraphApi:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        return [
            Route("/{version}/{node}", self.node, methods=["GET"]),
            Route("/{version}/{node}/insights", self.insights, methods=["GET"]),
        ]

    def _handle(self, request: Request, answer: Callable[[], dict[str, Any]]) -> Response:
        """Token, version and budget checks around ``answer``; GraphFail becomes an error."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") and "access_token" not in request.query_params:
            fail = GraphFail(400, 104, "An access token is required to request this resource.")
            return JSONResponse(fail.body(), fail.status)
        budget = self.world.take("graph")
        discovery = "business_discovery" in request.query_params.get("fields", "")
        node = request.path_params.get("node", "")
        headers = _usage_headers(budget, node, discovery, self.world.clock())
        try:
            _check_version(request.path_params["version"])
            if not budget.allowed and discovery:
                # Business discovery is metered per Instagram account (business use case).
                raise GraphFail(
                    400, 80002, "There have been too many calls to this Instagram account. "
                    "Wait a bit and try again.",
                )  # fmt: skip
            if not budget.allowed:
                raise GraphFail(403, 4, "(#4) Application request limit reached")
            self.world.refresh()
            return JSONResponse(answer(), headers=headers)
        except GraphFail as fail:
            return JSONResponse(fail.body(), fail.status, headers=headers)

    # --- nodes ----------------------------------------------------------------------------

    def node(self, request: Request) -> Response:
        return self._handle(request, lambda: self._node(request))

    def _node(self, request: Request) -> dict[str, Any]:
        node = request.path_params["node"]
        try:
            specs = graph_fields.parse(request.query_params.get("fields") or "id")
        except FieldsError as exc:
            raise GraphFail(400, 100, f'Syntax error "{exc}" in fields') from None
        discovery = next((s for s in specs if s.name == "business_discovery"), None)
        if discovery is not None:
            return {"business_discovery": self._discover(request, discovery), "id": node}
        if _FB_POST.fullmatch(node):
            post = self.world.post("facebook", node)
            if post is None:
                raise _missing(node)
            return self._fb_post(post, specs)
        if node.isdigit():
            return self._numeric(request, node, specs)
        page = self.world.by_handle("facebook", node)
        if page is None or not page.public:
            message = f"(#803) Some of the aliases you requested do not exist: {node}"
            raise GraphFail(404, 803, message)
        return _page(page, specs)

    def _numeric(self, request: Request, node: str, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
        media = self.world.post("instagram", node)
        if media is not None:
            return self._media(media, specs)
        account = self.world.account("instagram", node)
        if account is not None:
            return _ig_user(account, specs, len(self.world.posts_by("instagram", node)))
        page = self.world.account("facebook", node)
        if page is not None and page.public:
            return _page(page, specs)
        raise _missing(node)

    def _fb_post(self, post: Post, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
        counts = post.counts(self.world.clock())
        author = self.world.account("facebook", post.author_id)
        author_name = author.name if author else ""
        values: dict[str, Callable[[FieldSpec], Any]] = {
            "id": lambda _: post.post_id,
            "message": lambda _: post.text,
            "created_time": lambda _: _time(post.created_at),
            "updated_time": lambda _: _time(post.created_at),
            "permalink_url": lambda _: post.permalink,
            "from": lambda s: _pick({"id": post.author_id, "name": author_name}, s),
            "shares": lambda _: {"count": counts.reposts},
            "reactions": lambda s: _summary(counts.likes, s),
            "comments": lambda s: _summary(counts.replies, s),
            "status_type": lambda _: "added_photos",
            "parent_id": lambda _: None,  # an agency's own post shares nothing
        }
        data = _render(values, specs, "Post")
        if not counts.reposts:
            data.pop("shares", None)  # Graph leaves out "shares" until a post is shared
        return data

    def _media(self, media: Post, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
        counts = media.counts(self.world.clock())
        author = self.world.account("instagram", media.author_id)
        values: dict[str, Callable[[FieldSpec], Any]] = {
            "id": lambda _: media.post_id,
            "caption": lambda _: media.text,
            "permalink": lambda _: media.permalink,
            "shortcode": lambda _: media.shortcode,
            "timestamp": lambda _: _time(media.created_at),
            "username": lambda _: author.handle if author else "",
            "like_count": lambda _: counts.likes,
            "comments_count": lambda _: counts.replies,
            "media_type": lambda _: "IMAGE",
            "media_product_type": lambda _: "FEED",
        }
        return _render(values, specs, "IGMedia")

    def _discover(self, request: Request, spec: FieldSpec) -> dict[str, Any]:
        handle = spec.modifiers.get("username", "")
        account = self.world.by_handle("instagram", handle)
        if account is None or not account.public:
            raise GraphFail(
                400, 110, "Invalid user id", 2207013,
                error_user_title="Cannot find User",
                error_user_msg=f"The user with username: {handle} cannot be found.",
            )  # fmt: skip
        media = self.world.posts_by("instagram", account.user_id)
        data = _ig_user(account, tuple(c for c in spec.children if c.name != "media"), len(media))
        media_spec = spec.child("media")
        if media_spec is not None:
            data["media"] = self._media_page(request, media, media_spec)
        return data

    def _media_page(self, request: Request, media: list[Post], spec: FieldSpec) -> dict[str, Any]:
        limit = int(spec.modifiers.get("limit", DEFAULT_MEDIA_LIMIT) or 0)
        start = _cursor_offset(spec.modifiers.get("after"))
        page = media[start : start + limit]
        children = spec.children or (FieldSpec("id"),)
        edge: dict[str, Any] = {"data": [self._media(m, children) for m in page]}
        if page:
            cursors = {"before": _cursor(start), "after": _cursor(start + len(page))}
            edge["paging"] = {"cursors": cursors}
            if start + len(page) < len(media):
                here = str(request.url).split("?")[0]
                edge["paging"]["next"] = f"{here}?after={cursors['after']}"
        return edge

    # --- insights -------------------------------------------------------------------------

    def insights(self, request: Request) -> Response:
        return self._handle(request, lambda: self._insights(request))

    def _insights(self, request: Request) -> dict[str, Any]:
        node = request.path_params["node"]
        platform = "facebook" if _FB_POST.fullmatch(node) else "instagram"
        post = self.world.post(platform, node)
        if post is None:
            raise _missing(node)
        known = FB_INSIGHTS if platform == "facebook" else IG_INSIGHTS
        metrics = [m for m in request.query_params.get("metric", "").split(",") if m]
        if not metrics or any(m not in known for m in metrics):
            raise GraphFail(400, 100, "(#100) The value must be a valid insights metric")
        counts = post.counts(self.world.clock())
        value = {
            "post_media_view": counts.views, "post_impressions_unique": counts.views * 2 // 3,
            "post_clicks": counts.views // 30, "views": counts.views,
            "reach": counts.views * 2 // 3, "likes": counts.likes, "comments": counts.replies,
            "shares": counts.reposts, "saved": counts.bookmarks,
            "total_interactions": counts.likes + counts.replies + counts.reposts,
        }  # fmt: skip
        return {
            "data": [
                {
                    "name": metric,
                    "period": "lifetime",
                    "values": [{"value": value[metric]}],
                    "title": known[metric],
                    "description": f"Sandbox: {known[metric]}",
                    "id": f"{node}/insights/{metric}/lifetime",
                }
                for metric in metrics
            ]
        }


def _check_version(version: str) -> None:
    match = _VERSION.fullmatch(version)
    if match is None:
        raise GraphFail(400, 2500, f"Unknown path components: /{version}")
    if (int(match.group(1)), int(match.group(2))) < OLDEST_VERSION:
        raise GraphFail(
            400, 2635, f"(#2635) You are calling a deprecated version of the Graph API. "
            f"Please update to the latest version: {version} is no longer available."
        )  # fmt: skip


def _usage_headers(
    budget: Budget, node: str = "", discovery: bool = False, now: datetime | None = None
) -> dict[str, str]:
    """``x-app-usage``, or for business discovery Meta's per-account business-use-case one."""
    used = budget.limit - max(0, budget.remaining)
    percent = min(100, used * 100 // budget.limit)
    usage = {"call_count": percent, "total_cputime": percent // 3, "total_time": percent // 3}
    if not discovery:
        return {"x-app-usage": json.dumps(usage)}
    left = (budget.reset_at - (now or budget.reset_at)).total_seconds()
    wait = 0 if budget.allowed else max(1, int(left // 60))  # minutes, as Meta gives it
    entry = {"type": "instagram", **usage, "estimated_time_to_regain_access": wait}
    return {"x-business-use-case-usage": json.dumps({node: [entry]})}


def _render(
    values: dict[str, Callable[[FieldSpec], Any]], specs: tuple[FieldSpec, ...], node_type: str
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for spec in specs:
        value = values.get(spec.name)
        if value is None:
            raise _no_field(spec.name, node_type)
        found = value(spec)
        if found is not None:  # Graph leaves out fields without a value
            data[spec.name] = found
    data.setdefault("id", values["id"](FieldSpec("id")))  # Graph always returns the id
    return data


def _pick(values: dict[str, Any], spec: FieldSpec) -> dict[str, Any]:
    wanted = graph_fields.names(spec.children) or set(values)
    return {k: v for k, v in values.items() if k in wanted}


def _summary(total: int, spec: FieldSpec) -> dict[str, Any]:
    edge: dict[str, Any] = {"data": []}
    if "summary" in spec.modifiers:
        edge["summary"] = {"total_count": total}
    return edge


def _page(page: Account, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    values: dict[str, Callable[[FieldSpec], Any]] = {
        "id": lambda _: page.user_id,
        "name": lambda _: page.name,
        "username": lambda _: page.handle,
        "followers_count": lambda _: page.followers,
        "fan_count": lambda _: page.followers * 9 // 10,
        "about": lambda _: page.bio,
        "link": lambda _: f"https://www.facebook.com/{page.handle}",
        "category": lambda _: "Government organization",
    }
    return _render(values, specs, "Page")


def _ig_user(account: Account, specs: tuple[FieldSpec, ...], media_count: int) -> dict[str, Any]:
    values: dict[str, Callable[[FieldSpec], Any]] = {
        "id": lambda _: account.user_id,
        "ig_id": lambda _: int(account.user_id),
        "username": lambda _: account.handle,
        "name": lambda _: account.name,
        "biography": lambda _: account.bio,
        "followers_count": lambda _: account.followers,
        "follows_count": lambda _: 150 + account.followers % 700,
        "media_count": lambda _: media_count,
        "website": lambda _: "",
        "profile_picture_url": lambda _: "",
    }
    return _render(values, specs, "IGUser")


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"sandbox:{offset}".encode()).decode().rstrip("=")


def _cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return max(0, int(raw.removeprefix("sandbox:")))
    except ValueError:
        raise GraphFail(400, 100, "(#100) Invalid cursor") from None
