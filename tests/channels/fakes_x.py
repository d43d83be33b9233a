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

``tweet``, ``retweet``, ``quote`` and ``reply`` build tweet objects as X stores them: every link
in the text is replaced by a t.co link and described in ``entities.urls`` (``url``,
``expanded_url``, ``display_url``, ``unwound_url``); a retweet's text is ``RT @handle: …`` and
its ``public_metrics`` are the retweeted post's, as X reports them.

An answer X gives in a particular situation (a 401, a 404, a page with an odd hit) can be queued
for a path with ``add``; queued answers are served first, in order.

Tests get the fake and an ``XPlatform`` on it from the ``fake_x`` and ``x`` fixtures (this
module is a pytest plugin, registered in tests/conftest.py); bench/verify.py uses ``connect``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from channels.x import XPlatform

Json = dict[str, Any]

BASE_URL = "https://api.x.test"
TOKEN = "test-bearer"
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
RATE_LIMIT_HEADERS = ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
CREATED_AT = "2025-03-01T02:30:00.000Z"

# The endpoints, as X names them in its rate-limit tables; ``limit`` takes one of these.
TWEET = "/2/tweets/:id"
TWEETS = "/2/tweets"
SEARCH = "/2/tweets/search/recent"
USER_BY_USERNAME = "/2/users/by/username/:username"
USERS = "/2/users"
WINDOW_LIMIT = 450  # calls per 15-minute window, per endpoint
MAX_IDS = 100

_LINK = re.compile(r"https?://\S+")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_MENTION = re.compile(r"(?<!\w)@(\w{1,15})")
_SEARCH_TERM = re.compile(r"(retweets_of_tweet_id|quotes_of_tweet_id):(\d{1,20})")
_SEARCH_KINDS = {"retweets_of_tweet_id": "retweeted", "quotes_of_tweet_id": "quoted"}
_DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
_DEFAULT_USER_FIELDS = ("id", "name", "username")
_RT_LENGTH = 140  # X cuts a retweet's text here with "…"; the full text is on the original


# --- payloads -----------------------------------------------------------------------------


def user(
    user_id: str,
    username: str,
    followers: int = 1200,
    description: str = "",
    *,
    created_at: str = "2019-06-01T00:00:00.000Z",
) -> Json:
    """A user object with every field Gaung may ask for."""
    return {
        "id": user_id,
        "name": username.replace("_", " ").strip().title() or username,
        "username": username,
        "description": description,
        "created_at": created_at,
        "protected": False,
        "verified": False,
        "public_metrics": {
            "followers_count": followers,
            "following_count": 80,
            "tweet_count": 512,
            "listed_count": 3,
            "like_count": 40,
        },
    }


def t_co(link: str) -> str:
    """The t.co link X gives ``link`` (stable, so tests can name it)."""
    digest = hashlib.sha256(link.encode()).digest()
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "https://t.co/" + "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def display_url(link: str) -> str:
    """How X shows a link: without scheme and ``www.``, shortened with "…" when long."""
    shown = re.sub(r"^https?://(www\.)?", "", link)
    return shown if len(shown) <= 23 else shown[:23] + "…"


def _shortened(text: str, unwound: dict[str, str]) -> tuple[str, list[Json]]:
    """``text`` with each link replaced by its t.co link, and the ``entities.urls`` for them."""
    parts: list[str] = []
    urls: list[Json] = []
    last = 0
    for match in _LINK.finditer(text):
        parts.append(text[last : match.start()])
        start = sum(len(p) for p in parts)
        link = match.group(0)
        short = t_co(link)
        parts.append(short)
        urls.append(
            {
                "start": start,
                "end": start + len(short),
                "url": short,
                "expanded_url": link,
                "display_url": display_url(link),
                "unwound_url": unwound.get(link, link),
                "status": 200,
            }
        )
        last = match.end()
    parts.append(text[last:])
    return "".join(parts), urls


def _entities(text: str, urls: list[Json]) -> Json:
    """X's entities of a stored text: hashtags, mentions and urls, indexed by code point."""
    found: Json = {}
    tags = [
        {"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in _HASHTAG.finditer(text)
    ]
    mentions = [
        {"start": m.start(), "end": m.end(), "username": m.group(1)}
        for m in _MENTION.finditer(text)
    ]
    for key, items in (("hashtags", tags), ("mentions", mentions), ("urls", urls)):
        if items:
            found[key] = items
    return found


def tweet(
    tweet_id: str,
    author_id: str,
    text: str = "Info resmi #InfoResmiASN",
    *,
    references: Sequence[tuple[str, str]] = (),
    created_at: str = CREATED_AT,
    impressions: int = 0,
    likes: int = 0,
    retweets: int = 0,
    replies: int = 0,
    quotes: int = 0,
    unwound: dict[str, str] | None = None,
) -> Json:
    """A post as X stores it, from the text its author typed.

    Links become t.co links (``unwound`` maps a link to where it redirects, for
    ``unwound_url``); ``references`` are (type, id) pairs, type ``retweeted``, ``quoted`` or
    ``replied_to``.
    """
    stored, urls = _shortened(text, unwound or {})
    data: Json = {
        "id": tweet_id,
        "text": stored,
        "edit_history_tweet_ids": [tweet_id],
        "author_id": author_id,
        "created_at": created_at,
        "conversation_id": tweet_id,
        "lang": "in",
        "public_metrics": {
            "retweet_count": retweets,
            "reply_count": replies,
            "like_count": likes,
            "quote_count": quotes,
            "bookmark_count": 0,
            "impression_count": impressions,
        },
    }
    if entities := _entities(stored, urls):
        data["entities"] = entities
    if references:
        data["referenced_tweets"] = [{"type": kind, "id": ref} for kind, ref in references]
    return data


def retweet(
    tweet_id: str, author_id: str, original: Json, handle: str, *, created_at: str = CREATED_AT
) -> Json:
    """A plain retweet of ``original`` (written by @``handle``), as X returns it.

    The text is ``RT @handle: `` and the original's text, cut at 140 characters; the entities
    are the original's that still fit; the counts are the original's retweets and nothing else
    (a retweet cannot be liked or replied to itself).
    """
    prefix = f"RT @{handle}: "
    text = prefix + original["text"]
    if len(text) > _RT_LENGTH:
        text = text[: _RT_LENGTH - 1] + "…"
    shift = len(prefix)
    urls = [
        {**url, "start": url["start"] + shift, "end": url["end"] + shift}
        for url in original.get("entities", {}).get("urls", [])
        if url["end"] + shift <= len(text)
    ]
    counts = original["public_metrics"]
    data: Json = {
        "id": tweet_id,
        "text": text,
        "edit_history_tweet_ids": [tweet_id],
        "author_id": author_id,
        "created_at": created_at,
        "conversation_id": tweet_id,
        "lang": original.get("lang", "in"),
        "public_metrics": {
            "retweet_count": counts["retweet_count"],
            "reply_count": 0,
            "like_count": 0,
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": 0,
        },
        "referenced_tweets": [{"type": "retweeted", "id": original["id"]}],
    }
    if entities := _entities(text, urls):
        data["entities"] = entities
    return data


def quote(tweet_id: str, author_id: str, text: str, quoted_id: str, **fields: Any) -> Json:
    """A quote post: the author's own text, referencing ``quoted_id`` as ``quoted``."""
    return tweet(tweet_id, author_id, text, references=[("quoted", quoted_id)], **fields)


def reply(tweet_id: str, author_id: str, text: str, replied_to_id: str, **fields: Any) -> Json:
    """A reply, referencing ``replied_to_id`` as ``replied_to``."""
    return tweet(tweet_id, author_id, text, references=[("replied_to", replied_to_id)], **fields)


def single(data: Json, users: Sequence[Json] = ()) -> Json:
    """The answer of a single lookup (GET /2/tweets/:id, GET /2/users/by/username/:username)."""
    body: Json = {"data": data}
    if users:
        body["includes"] = {"users": list(users)}
    return body


def search_page(
    tweets: Sequence[Json], users: Sequence[Json], next_token: str | None = None
) -> Json:
    """One page of GET /2/tweets/search/recent (newest first, as X returns them)."""
    meta: Json = {"result_count": len(tweets)}
    body: Json = {}
    if tweets:
        body["data"] = list(tweets)
        meta["newest_id"] = tweets[0]["id"]
        meta["oldest_id"] = tweets[-1]["id"]
        if users:
            body["includes"] = {"users": list(users)}
    if next_token:
        meta["next_token"] = next_token
    body["meta"] = meta
    return body


def not_found(resource_id: str, resource_type: str = "tweet", parameter: str = "id") -> Json:
    """One ``errors`` item: X's answer for a deleted or unknown post or user."""
    return {
        "value": resource_id,
        "detail": f"Could not find {resource_type} with {parameter}: [{resource_id}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": resource_id,
        "type": NOT_FOUND,
    }


def problem(status: int, title: str, detail: str) -> Json:
    """An HTTP error body (401, 404, 429, ...) in X's problem format."""
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}


def invalid(parameter: str, message: str) -> Json:
    """X's 400 body for a bad query parameter."""
    return {
        "errors": [{"parameters": {parameter: [message]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": INVALID_REQUEST,
    }


def oembed(post_id: str, handle: str, text: str) -> Json:
    """publish.twitter.com/oembed's documented answer."""
    return {
        "url": f"https://twitter.com/{handle}/status/{post_id}",
        "author_name": handle.title(),
        "author_url": f"https://twitter.com/{handle}",
        "html": (
            '<blockquote class="twitter-tweet"><p lang="in" dir="ltr">'
            f"{text}</p>&mdash; {handle.title()} (@{handle}) "
            f'<a href="https://twitter.com/{handle}/status/{post_id}">March 1, 2025</a>'
            "</blockquote>\n"
        ),
        "width": 550,
        "height": None,
        "type": "rich",
        "cache_age": "3153600000",
        "provider_name": "Twitter",
        "provider_url": "https://twitter.com",
        "version": "1.0",
    }


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
        headers = {
            "x-rate-limit-limit": str(WINDOW_LIMIT),
            "x-rate-limit-remaining": str(max(0, window - self.used[endpoint])),
            "x-rate-limit-reset": str(self.reset),
        }
        if endpoint in self.reset_header and self.reset_header[endpoint] is None:
            del headers["x-rate-limit-reset"]
        return headers

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
            next_token=_token(page[-1]["id"]) if more else None,
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


_TOKEN_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _token(oldest_id: str) -> str:
    """An opaque next_token (the last id of the page, in base 36)."""
    number, digits = int(oldest_id), ""
    while number:
        number, rest = divmod(number, 36)
        digits = _TOKEN_ALPHABET[rest] + digits
    return "b26v" + (digits or "0")


def _below(params: dict[str, str]) -> int | None:
    """The id every result must be older than (until_id, next_token); ValueError if invalid."""
    bounds: list[int] = []
    if params.get("until_id"):
        bounds.append(int(params["until_id"]))
    if token := params.get("next_token"):
        if not token.startswith("b26v"):
            raise ValueError(token)
        bounds.append(int(token.removeprefix("b26v"), 36))
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
