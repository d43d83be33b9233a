"""The X API v2 endpoints Gaung calls through tweepy, answered from the sandbox's world.

Shapes follow X's documentation and come from ``x_shapes`` (which the tests' fake of X uses
too): post text with every link as a t.co link described in ``entities.urls`` (``url``,
``expanded_url``, ``display_url``, ``unwound_url``), a retweet as ``RT @handle: …`` cut at 140
characters with ``referenced_tweets`` of type ``retweeted``, a quote with type ``quoted``;
``data`` / ``includes.users`` / ``meta`` with an opaque ``next_token`` on success, ``errors``
with a ``resource-not-found`` problem in a 200 answer for a missing or deleted post or user,
problem objects for 400/401/429, and ``x-rate-limit-*`` headers on every answer. Each
endpoint family has its own window budget, like X's per-15-minute limits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channels.sandbox import x_shapes
from channels.sandbox.state import Account, Budget, Post, World
from channels.sandbox.x_shapes import invalid, next_token, not_found, problem, token_id

MAX_IDS = 100
_TERM = re.compile(r"(retweets_of_tweet_id|quotes_of_tweet_id):(\d{1,20})")
_KINDS = {"retweets_of_tweet_id": "retweeted", "quotes_of_tweet_id": "quoted"}
_ID = re.compile(r"\d{1,20}")
_DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")


def iso(at: datetime) -> str:
    """X's timestamp format: 2025-03-01T02:30:00.000Z."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _fields(request: Request, name: str) -> set[str]:
    return {f for f in request.query_params.get(name, "").split(",") if f}


class XApi:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        return [
            Route("/2/tweets/search/recent", self.search),
            Route("/2/tweets/{post_id}", self.tweet),
            Route("/2/tweets", self.tweets),
            Route("/2/users/by/username/{username}", self.user_by_username),
            Route("/2/users/by", self.users_by_usernames),
            Route("/2/users/{user_id}", self.user),
            Route("/2/users", self.users),
        ]

    # --- plumbing -------------------------------------------------------------------------

    def _guard(self, request: Request, bucket: str) -> Budget | Response:
        """Authorisation, then the bucket's budget; a Response means "answer with this"."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return JSONResponse(problem(401, "Unauthorized", "Unauthorized"), 401)
        budget = self.world.take(f"x:{bucket}")
        if not budget.allowed:
            body = problem(429, "Too Many Requests", "Too Many Requests")
            return JSONResponse(body, 429, headers=_rate_headers(budget))
        self.world.refresh()
        return budget

    def _answer(self, body: dict[str, Any], budget: Budget, status: int = 200) -> Response:
        return JSONResponse(body, status, headers=_rate_headers(budget))

    def _tweet(self, post: Post, fields: set[str]) -> dict[str, Any]:
        """The post as X returns it, with the fields asked for besides the defaults."""
        stored = self._stored(post)
        wanted = {*_DEFAULT_TWEET_FIELDS, *fields}
        return {k: v for k, v in stored.items() if k in wanted}

    def _stored(self, post: Post) -> dict[str, Any]:
        """The post as X stores it: t.co links, a retweet's text built from the original's."""
        counts = self._counted(post).counts(self.world.clock())
        created = iso(post.created_at)
        original, owner = self._retweeted(post)
        if original is not None and owner is not None:
            data = x_shapes.retweet(
                post.post_id, post.author_id, self._stored(original), owner.handle,
                created_at=created,
            )  # fmt: skip
        else:
            data = x_shapes.tweet(
                post.post_id, post.author_id, post.text, references=post.references,
                created_at=created, impressions=counts.views, likes=counts.likes,
                retweets=counts.reposts, replies=counts.replies, quotes=counts.quotes,
            )  # fmt: skip
            data["public_metrics"]["bookmark_count"] = counts.bookmarks
        return data

    def _retweeted(self, post: Post) -> tuple[Post | None, Account | None]:
        """The original of a plain retweet and its author (None, None for any other post)."""
        for kind, original_id in post.references:
            original = self.world.posts.get(("x", original_id))
            if kind == "retweeted" and original is not None:
                return original, self.world.account("x", original.author_id)
        return None, None

    def _counted(self, post: Post) -> Post:
        """Whose metrics a post shows: on X a plain retweet shows the original's."""
        for kind, original_id in post.references:
            original = self.world.posts.get(("x", original_id))
            if kind == "retweeted" and original is not None:
                return original
        return post

    def _user(self, account: Account, fields: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": account.user_id,
            "name": account.name,
            "username": account.handle,
        }
        if "description" in fields:
            data["description"] = account.bio
        if "created_at" in fields:
            data["created_at"] = iso(account.created_at)
        if "protected" in fields:
            data["protected"] = False
        if "verified" in fields:
            data["verified"] = False
        if "public_metrics" in fields:
            data["public_metrics"] = {
                "followers_count": account.followers,
                "following_count": 100 + account.followers % 400,
                "tweet_count": 200 + account.followers % 3000,
                "listed_count": account.followers // 500,
                "like_count": account.followers % 5000,
            }
        return data

    def _with_includes(
        self, request: Request, body: dict[str, Any], posts: Iterable[Post]
    ) -> dict[str, Any]:
        if "author_id" not in _fields(request, "expansions"):
            return body
        user_fields = _fields(request, "user.fields")
        users: dict[str, dict[str, Any]] = {}
        for post in posts:
            account = self.world.account("x", post.author_id)
            if account is not None and post.author_id not in users:
                users[post.author_id] = self._user(account, user_fields)
        if users:
            body["includes"] = {"users": list(users.values())}
        return body

    # --- tweets ---------------------------------------------------------------------------

    def search(self, request: Request) -> Response:
        guard = self._guard(request, "search")
        if isinstance(guard, Response):
            return guard
        params = request.query_params
        terms = _parse_query(params.get("query", ""))
        if terms is None:
            message = "Sandbox search understands retweets_of_tweet_id:ID OR quotes_of_tweet_id:ID"
            return self._answer(invalid("query", message), guard, 400)
        try:
            limit = int(params.get("max_results", "10"))
            since = int(params.get("since_id") or 0)
            until = int(params["until_id"]) if params.get("until_id") else None
            below = token_id(params.get("next_token"))
        except ValueError:
            return self._answer(invalid("next_token", "Invalid paging or id parameter"), guard, 400)
        if not 10 <= limit <= MAX_IDS:
            message = f"The `max_results` query parameter value [{limit}] is not between 10 and 100"
            return self._answer(invalid("max_results", message), guard, 400)
        if below is not None:
            until = below if until is None else min(until, below)
        found = self.world.referencing(terms, since, until)
        page, more = found[:limit], len(found) > limit
        meta: dict[str, Any] = {"result_count": len(page)}
        body: dict[str, Any] = {"meta": meta}
        if page:
            fields = _fields(request, "tweet.fields")
            body["data"] = [self._tweet(p, fields) for p in page]
            meta.update(newest_id=page[0].post_id, oldest_id=page[-1].post_id)
            self._with_includes(request, body, page)
        if more:
            meta["next_token"] = next_token(page[-1].post_id)
        return self._answer(body, guard)

    def tweet(self, request: Request) -> Response:
        guard = self._guard(request, "tweets")
        if isinstance(guard, Response):
            return guard
        post_id = request.path_params["post_id"]
        if not _ID.fullmatch(post_id):
            return self._answer(invalid("id", f"The `id` query parameter value [{post_id}] "
                                "is not valid"), guard, 400)  # fmt: skip
        post = self.world.post("x", post_id)
        if post is None:
            return self._answer({"errors": [not_found(post_id, "tweet", "id")]}, guard)
        body = {"data": self._tweet(post, _fields(request, "tweet.fields"))}
        return self._answer(self._with_includes(request, body, [post]), guard)

    def tweets(self, request: Request) -> Response:
        guard = self._guard(request, "tweets")
        if isinstance(guard, Response):
            return guard
        ids = _ids(request.query_params.get("ids", ""))
        if ids is None:
            return self._answer(invalid("ids", "ids must be 1 to 100 numeric ids"), guard, 400)
        fields = _fields(request, "tweet.fields")
        posts = {i: self.world.post("x", i) for i in ids}
        found = [p for p in posts.values() if p is not None]
        body: dict[str, Any] = {}
        if found:
            body["data"] = [self._tweet(p, fields) for p in found]
        missing = [not_found(i, "tweet", "ids") for i, p in posts.items() if p is None]
        if missing:
            body["errors"] = missing
        return self._answer(self._with_includes(request, body, found), guard)

    # --- users ----------------------------------------------------------------------------

    def _users_answer(
        self, request: Request, budget: Budget, found: dict[str, Account | None], parameter: str
    ) -> Response:
        fields = _fields(request, "user.fields")
        body: dict[str, Any] = {}
        accounts = [a for a in found.values() if a is not None]
        if accounts:
            body["data"] = [self._user(a, fields) for a in accounts]
        missing = [not_found(k, "user", parameter) for k, a in found.items() if a is None]
        if missing:
            body["errors"] = missing
        return self._answer(body, budget)

    def user_by_username(self, request: Request) -> Response:
        guard = self._guard(request, "users")
        if isinstance(guard, Response):
            return guard
        username = request.path_params["username"]
        account = self.world.by_handle("x", username)
        if account is None:
            return self._answer({"errors": [not_found(username, "user", "username")]}, guard)
        return self._answer({"data": self._user(account, _fields(request, "user.fields"))}, guard)

    def users_by_usernames(self, request: Request) -> Response:
        guard = self._guard(request, "users")
        if isinstance(guard, Response):
            return guard
        names = [n for n in request.query_params.get("usernames", "").split(",") if n]
        if not 1 <= len(names) <= MAX_IDS:
            return self._answer(invalid("usernames", "1 to 100 usernames"), guard, 400)
        found = {n: self.world.by_handle("x", n) for n in names}
        return self._users_answer(request, guard, found, "usernames")

    def user(self, request: Request) -> Response:
        guard = self._guard(request, "users")
        if isinstance(guard, Response):
            return guard
        user_id = request.path_params["user_id"]
        account = self.world.account("x", user_id)
        if account is None:
            return self._answer({"errors": [not_found(user_id, "user", "id")]}, guard)
        return self._answer({"data": self._user(account, _fields(request, "user.fields"))}, guard)

    def users(self, request: Request) -> Response:
        guard = self._guard(request, "users")
        if isinstance(guard, Response):
            return guard
        ids = _ids(request.query_params.get("ids", ""))
        if ids is None:
            return self._answer(invalid("ids", "ids must be 1 to 100 numeric ids"), guard, 400)
        found = {i: self.world.account("x", i) for i in ids}
        return self._users_answer(request, guard, found, "ids")


def _rate_headers(budget: Budget) -> dict[str, str]:
    return x_shapes.rate_headers(budget.limit, budget.remaining, int(budget.reset_at.timestamp()))


def _parse_query(query: str) -> list[tuple[str, str]] | None:
    """(reference kind, post id) pairs of ``retweets_of_tweet_id:ID OR quotes_of_tweet_id:ID``."""
    text = query.strip().removeprefix("(").removesuffix(")").strip()
    terms = []
    for part in re.split(r"\s+OR\s+", text):
        match = _TERM.fullmatch(part.strip())
        if match is None:
            return None
        terms.append((_KINDS[match.group(1)], match.group(2)))
    return terms


def _ids(raw: str) -> list[str] | None:
    ids = [i for i in raw.split(",") if i]
    if not 1 <= len(ids) <= MAX_IDS or not all(_ID.fullmatch(i) for i in ids):
        return None
    return list(dict.fromkeys(ids))
