"""The one fake of the X API v2 for tests and benchmarks: a requests transport adapter for tweepy.

``FakeX`` holds tweets and users and answers the endpoints Gaung calls the way X documents
them (https://docs.x.com/x-api):

- ``GET /2/tweets/:id``, ``GET /2/tweets?ids=``: ``data``, ``includes.users`` when
  ``expansions=author_id``, and for a missing or deleted post a 200 with an ``errors`` array
  (``resource-not-found``; ``parameter`` is ``id`` or ``ids``);
- ``GET /2/tweets/search/recent`` for ``retweets_of_tweet_id:ID OR quotes_of_tweet_id:ID``:
  newest first, ``since_id`` / ``until_id``, ``meta`` with ``result_count``, ``newest_id``,
  ``oldest_id`` and an opaque ``next_token`` while more pages remain;
- ``GET /2/users/by/username/:username``, ``GET /2/users?ids=``.

Only the fields asked for in ``tweet.fields`` / ``user.fields`` are returned, besides the
defaults (``id``, ``text``, ``edit_history_tweet_ids``; ``id``, ``name``, ``username``). Every
answer carries ``x-rate-limit-limit``, ``x-rate-limit-remaining`` and ``x-rate-limit-reset``;
an endpoint whose window budget is spent (``limit``) answers 429 with them.

``tweet``, ``retweet``, ``quote`` and ``reply`` (from ``channels/sandbox/x_shapes.py``, which the
demo sandbox answers with too) build tweet objects as X stores them: every link
in the text is replaced by a t.co link and described in ``entities.urls`` (``url``,
``expanded_url``, ``display_url``, ``unwound_url``); a retweet's text is ``RT @handle: …`` and
its ``public_metrics`` are the retweeted post's, as X reports them.

An answer X gives in a particular situation (a 401, a 404, a page with an odd hit) can be queued
for a path with ``add``; queued answers are served first, in order.

Tests get the fake and an ``XPlatform`` on it from the ``fake_x`` and ``x`` fixtures (this
module is a pytest plugin, registered in tests/conftest.py); bench/verify.py uses ``connect``.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from channels.sandbox.x_shapes import (
    CREATED_AT,
    INVALID_REQUEST,
    NOT_FOUND,
    RATE_LIMIT_HEADERS,
    Json,
    display_url,
    invalid,
    next_token,
    not_found,
    oembed,
    problem,
    quote,
    rate_headers,
    reply,
    retweet,
    search_page,
    single,
    t_co,
    token_id,
    tweet,
    user,
)
from channels.x import XPlatform

__all__ = [
    "BASE_URL", "CREATED_AT", "INVALID_REQUEST", "NOT_FOUND", "RATE_LIMIT_HEADERS", "SEARCH",
    "TOKEN", "TWEET", "TWEETS", "USERS", "USER_BY_USERNAME", "FakeX", "connect", "display_url",
    "invalid", "next_token", "not_found", "oembed", "problem", "quote", "reply", "retweet",
    "search_page", "single", "t_co", "tweet", "user",
]  # fmt: skip

BASE_URL = "https://api.x.test"
TOKEN = "test-bearer"

# The endpoints, as X names them in its rate-limit tables; ``limit`` takes one of these.
TWEET = "/2/tweets/:id"
TWEETS = "/2/tweets"
SEARCH = "/2/tweets/search/recent"
USER_BY_USERNAME = "/2/users/by/username/:username"
USERS = "/2/users"
WINDOW_LIMIT = 450  # calls per 15-minute window, per endpoint
MAX_IDS = 100

_SEARCH_TERM = re.compile(r"(retweets_of_tweet_id|quotes_of_tweet_id):(\d{1,20})")
_SEARCH_KINDS = {"retweets_of_tweet_id": "retweeted", "quotes_of_tweet_id": "quoted"}
_DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
_DEFAULT_USER_FIELDS = ("id", "name", "username")


# --- the adapter --------------------------------------------------------------------------


class FakeX(BaseAdapter):
    """X API v2 behind tweepy's session: the posts and users it holds, rate windows, requests."""

    def __init__(self, *, page_size: int = MAX_IDS) -> None:
        super().__init__()
        self.tweets: dict[str, Json] = {}
        self.users: dict[str, Json] = {}
        self.page_size = page_size  # X may return fewer than max_results per page
        self.requests: list[requests.PreparedRequest] = []
        self.answers: list[tuple[int, Json]] = []
        self.queued: dict[str, deque[tuple[int, Any, dict[str, str]]]] = defaultdict(deque)
        self.reset = int(time.time()) + 900  # the end of the current 15-minute window
        self.used: dict[str, int] = defaultdict(int)
        self.budget: dict[str, int] = {}
        self.reset_header: dict[str, int | None] = {}

    # --- the world ------------------------------------------------------------------------

    def post(self, *tweets: Json) -> None:
        for item in tweets:
            self.tweets[item["id"]] = item

    def sign_up(self, *users: Json) -> None:
        for item in users:
            self.users[item["id"]] = item

    def delete(self, *tweet_ids: str) -> None:
        for tweet_id in tweet_ids:
            self.tweets.pop(tweet_id, None)

    # --- situations -----------------------------------------------------------------------

    def add(
        self, path: str, body: Any, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next request to ``path`` with exactly this, before anything else."""
        self.queued[path].append((status, body, headers or {}))

    def limit(self, endpoint: str, calls: int, *, reset: int | None) -> None:
        """Allow ``calls`` more calls to ``endpoint`` in this window, then answer 429.

        ``reset`` is the window's end (Unix time) for ``x-rate-limit-reset``; ``None`` leaves
        the header out of the 429, as a proxy stripping it would.
        """
        self.budget[endpoint] = self.used[endpoint] + calls
        self.reset_header[endpoint] = reset
        if reset is not None:
            self.reset = reset

    def new_window(self) -> None:
        """The reset time has passed: every endpoint has its whole budget again."""
        self.used.clear()
        self.budget.clear()
        self.reset_header.clear()

    # --- what was asked -------------------------------------------------------------------

    def params(self, index: int) -> dict[str, str]:
        """The query parameters of the ``index``-th request, one value each."""
        query = parse_qs(urlsplit(self.requests[index].url or "").query)
        return {key: values[0] for key, values in query.items()}

    def paths(self) -> list[str]:
        return [urlsplit(r.url or "").path for r in self.requests]

    # --- transport ------------------------------------------------------------------------

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: object = None,
        verify: object = True,
        cert: object = None,
        proxies: object = None,
    ) -> requests.Response:
        self.requests.append(request)
        path = urlsplit(request.url or "").path
        if self.queued.get(path):
            status, body, headers = self.queued[path].popleft()
            return self._response(request, status, body, headers)
        endpoint, argument = _endpoint(path)
        auth = request.headers.get("Authorization")
        bearer = auth.removeprefix("Bearer ") if isinstance(auth, str) else ""
        if bearer == auth or not bearer.strip():
            return self._response(request, 401, problem(401, "Unauthorized", "Unauthorized"), {})
        if self.used[endpoint] >= self.budget.get(endpoint, WINDOW_LIMIT):
            body = problem(429, "Too Many Requests", "Too Many Requests")
            return self._response(request, 429, body, self._rate_headers(endpoint))
        self.used[endpoint] += 1
        params = self.params(len(self.requests) - 1)
        status, answer = self._answer(endpoint, argument, params)
        return self._response(request, status, answer, self._rate_headers(endpoint))

    def close(self) -> None:
        """Nothing to release."""

    def _rate_headers(self, endpoint: str) -> dict[str, str]:
        window = self.budget.get(endpoint, WINDOW_LIMIT)
        reset = None if self.reset_header.get(endpoint, 0) is None else self.reset
        return rate_headers(WINDOW_LIMIT, window - self.used[endpoint], reset)

    def _response(
        self, request: requests.PreparedRequest, status: int, body: Any, headers: dict[str, str]
    ) -> requests.Response:
        self.answers.append((status, body))
        response = requests.Response()
        response.status_code = status
        response.reason = HTTPStatus(status).phrase
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"content-type": "application/json", **headers})
        response.url = request.url or ""
        response.request = request
        return response

    # --- endpoints ------------------------------------------------------------------------

    def _answer(self, endpoint: str, argument: str, params: dict[str, str]) -> tuple[int, Json]:
        if endpoint == TWEET:
            return self._lookup_tweets([argument], params, "id", single_item=True)
        if endpoint == TWEETS:
            ids = _ids(params.get("ids", ""))
            if ids is None:
                return 400, invalid("ids", "ids must be 1 to 100 comma-separated numeric ids")
            return self._lookup_tweets(ids, params, "ids", single_item=False)
        if endpoint == SEARCH:
            return self._search(params)
        if endpoint == USER_BY_USERNAME:
            return self._lookup_username(argument, params)
        ids = _ids(params.get("ids", ""))
        if ids is None:
            return 400, invalid("ids", "ids must be 1 to 100 comma-separated numeric ids")
        return self._lookup_users(ids, params)

    def _tweet(self, stored: Json, params: dict[str, str]) -> Json:
        fields = {*_DEFAULT_TWEET_FIELDS, *_listed(params, "tweet.fields")}
        return {k: v for k, v in stored.items() if k in fields}

    def _user(self, stored: Json, params: dict[str, str]) -> Json:
        fields = {*_DEFAULT_USER_FIELDS, *_listed(params, "user.fields")}
        return {k: v for k, v in stored.items() if k in fields}

    def _author(self, author_id: str) -> Json:
        """Every post has an author X knows; one not signed up here gets a plain account."""
        return self.users.get(author_id) or user(author_id, f"user{author_id}")

    def _with_authors(self, body: Json, found: Iterable[Json], params: dict[str, str]) -> Json:
        if "author_id" not in _listed(params, "expansions"):
            return body
        authors = dict.fromkeys(t["author_id"] for t in found)
        if authors:
            body["includes"] = {"users": [self._user(self._author(a), params) for a in authors]}
        return body

    def _lookup_tweets(
        self, ids: list[str], params: dict[str, str], parameter: str, *, single_item: bool
    ) -> tuple[int, Json]:
        found = [self.tweets[i] for i in ids if i in self.tweets]
        body: Json = {}
        if found:
            data = [self._tweet(t, params) for t in found]
            body["data"] = data[0] if single_item else data
        missing = [not_found(i, "tweet", parameter) for i in ids if i not in self.tweets]
        if missing:
            body["errors"] = missing
        return 200, self._with_authors(body, found, params)

    def _search(self, params: dict[str, str]) -> tuple[int, Json]:
        terms = _search_terms(params.get("query", ""))
        if terms is None:
            raise AssertionError(f"FakeX does not understand the query {params.get('query')!r}")
        max_results = int(params.get("max_results", "10"))
        if not 10 <= max_results <= MAX_IDS:
            message = (
                f"The `max_results` query parameter value [{max_results}] is not between 10 and 100"
            )
            return 400, invalid("max_results", message)
        try:
            since = int(params.get("since_id") or 0)
            below = _below(params)
        except ValueError:
            return 400, invalid("next_token", "Invalid since_id, until_id or next_token")
        hits = sorted(
            (
                t
                for t in self.tweets.values()
                if since < int(t["id"]) and (below is None or int(t["id"]) < below)
                and any((r["type"], r["id"]) in terms for r in t.get("referenced_tweets", []))
            ),
            key=lambda t: -int(t["id"]),
        )  # fmt: skip
        page = hits[: min(max_results, self.page_size)]
        more = len(hits) > len(page)
        body = search_page(
            [self._tweet(t, params) for t in page],
            [],
            next_token=next_token(page[-1]["id"]) if more else None,
        )
        return 200, self._with_authors(body, page, params)

    def _lookup_username(self, username: str, params: dict[str, str]) -> tuple[int, Json]:
        wanted = username.lower()
        for stored in self.users.values():
            if stored["username"].lower() == wanted:
                return 200, {"data": self._user(stored, params)}
        return 200, {"errors": [not_found(username, "user", "username")]}

    def _lookup_users(self, ids: list[str], params: dict[str, str]) -> tuple[int, Json]:
        body: Json = {}
        found = [self._user(self.users[i], params) for i in ids if i in self.users]
        if found:
            body["data"] = found
        missing = [not_found(i, "user", "ids") for i in ids if i not in self.users]
        if missing:
            body["errors"] = missing
        return 200, body


def _endpoint(path: str) -> tuple[str, str]:
    """(endpoint, path argument) of a request path; an unknown path fails the test."""
    if path in (TWEETS, SEARCH, USERS):
        return path, ""
    for prefix, endpoint in (("/2/tweets/", TWEET), ("/2/users/by/username/", USER_BY_USERNAME)):
        argument = path.removeprefix(prefix)
        if argument != path and argument and "/" not in argument:
            return endpoint, argument
    raise AssertionError(f"FakeX has no endpoint {path}")


def _listed(params: dict[str, str], name: str) -> list[str]:
    return [f for f in params.get(name, "").split(",") if f]


def _ids(raw: str) -> list[str] | None:
    ids = [i for i in raw.split(",") if i]
    if not 1 <= len(ids) <= MAX_IDS or not all(i.isdigit() for i in ids):
        return None
    return list(dict.fromkeys(ids))


def _search_terms(query: str) -> set[tuple[str, str]] | None:
    """(reference type, post id) pairs of ``retweets_of_tweet_id:ID OR quotes_of_tweet_id:ID``."""
    terms = set()
    for part in re.split(r"\s+OR\s+", query.strip().removeprefix("(").removesuffix(")")):
        match = _SEARCH_TERM.fullmatch(part.strip())
        if match is None:
            return None
        terms.add((_SEARCH_KINDS[match.group(1)], match.group(2)))
    return terms


def _below(params: dict[str, str]) -> int | None:
    """The id every result must be older than (until_id, next_token); ValueError if invalid."""
    bounds: list[int] = []
    if params.get("until_id"):
        bounds.append(int(params["until_id"]))
    if (below := token_id(params.get("next_token"))) is not None:
        bounds.append(below)
    return min(bounds) if bounds else None


# --- fixtures -----------------------------------------------------------------------------


def connect(fake: FakeX, bearer_token: str = TOKEN, base_url: str = BASE_URL) -> XPlatform:
    """The real X channel (tweepy and all), its requests answered by ``fake``."""
    platform = XPlatform(bearer_token, base_url)
    platform.client.session.mount(base_url.rstrip("/") + "/", fake)
    return platform


@pytest.fixture
def fake_x() -> FakeX:
    return FakeX()


@pytest.fixture
def x(fake_x: FakeX) -> XPlatform:
    return connect(fake_x)
