"""X (Twitter) through the v2 API with tweepy, and keyless oEmbed when no token is set.

X bills reads per call, so this module batches (100 ids per metrics call, one search per
official post for all its reposts) and counts every call in ``XPlatform.calls``. tweepy is
built with ``wait_on_rate_limit=False``: a job must never sleep, it raises ``RateLimited`` and
the scheduler retries at the reset time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from html import unescape
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import requests
import tweepy
from requests.adapters import BaseAdapter

from assignments.metrics import Metrics
from channels import http
from channels.credentials import credential
from channels.platforms import (
    AccountGone,
    AccountInfo,
    AuthError,
    ChannelError,
    NotConnected,
    PostGone,
    PostRef,
    RateLimited,
    RepostKind,
    RepostMatch,
    Unverifiable,
)
from gaung.db import utcnow
from gaung.errors import N_, GaungError
from gaung.settings import get_settings

SLUG = "x"
TWEEPY_HOST = "https://api.twitter.com"  # tweepy hard-codes this host in BaseClient.request
OEMBED_URL = "https://publish.twitter.com/oembed"
PROBLEM_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
PROBLEM_NOT_AUTHORIZED = "https://api.twitter.com/2/problems/not-authorized-for-resource"
TWEET_FIELDS = ["author_id", "created_at", "referenced_tweets", "public_metrics", "entities"]
MAX_IDS_PER_CALL = 100
REFERENCE_KINDS: dict[str, RepostKind] = {"retweeted": "repost", "quoted": "quote"}

_STATUS_PATH = re.compile(
    r"^/(?:(?P<handle>\w{1,50})/status(?:es)?|i/web/status|i/status)/(?P<id>\d{1,20})(?:/|$)",
    re.ASCII,
)
_BARE_ID = re.compile(r"[0-9]{1,20}")
_X_HOSTS = {"x.com", "twitter.com", "mobile.twitter.com", "mobile.x.com", "m.twitter.com"}
_T = TypeVar("_T")


def parse_status_url(value: str) -> tuple[str, str | None]:
    """(post id, author handle or None) from a numeric id or an x.com / twitter.com status link."""
    text = value.strip()
    if _BARE_ID.fullmatch(text):
        return text, None
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
    except ValueError:  # e.g. an unbalanced "[" read as an IPv6 host
        parts = urlsplit("")
    host = (parts.hostname or "").lower().removeprefix("www.")
    match = _STATUS_PATH.match(parts.path)
    if parts.scheme not in ("http", "https") or host not in _X_HOSTS or match is None:
        raise GaungError(N_("This is not a link to a post on X."), field="url")
    handle = match.group("handle")
    return match.group("id"), handle if handle and handle.lower() != "i" else None


def status_url(post_id: str, handle: str | None) -> str:
    return f"https://x.com/{handle or 'i/web'}/status/{post_id}"


class _RebaseAdapter(BaseAdapter):
    """Sends tweepy's fixed-host requests to the configured API base URL instead."""

    def __init__(self, session: requests.Session, base_url: str) -> None:
        super().__init__()
        self.session = session
        self.base_url = base_url.rstrip("/")

    def send(  # type: ignore[override]  # forwards requests' keyword arguments unchanged
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        request.url = self.base_url + (request.url or "")[len(TWEEPY_HOST) :]
        return self.session.get_adapter(request.url).send(request, **kwargs)

    def close(self) -> None:
        """Nothing of its own to close; the session closes the real adapters."""


class XPlatform:
    slug = SLUG

    def __init__(self, bearer_token: str, api_base_url: str = TWEEPY_HOST) -> None:
        self.bearer_token = bearer_token
        self.calls = 0  # billed API calls made by this instance (oEmbed is free and not counted)
        self.gone: set[str] = set()  # post ids metrics() was told do not exist (any more)
        self.suspended: set[str] = set()  # usernames lookup_handles() was told are suspended
        self.client = tweepy.Client(bearer_token=bearer_token or None, wait_on_rate_limit=False)
        if api_base_url.rstrip("/") != TWEEPY_HOST:
            self.client.session.mount(
                TWEEPY_HOST + "/", _RebaseAdapter(self.client.session, api_base_url)
            )

    def connected(self) -> bool:
        return bool(self.bearer_token)

    def lookup_account(self, handle: str) -> AccountInfo:
        username = handle.strip().removeprefix("@")
        response = self._call(
            lambda: self.client.get_user(
                username=username, user_fields=["description", "public_metrics"]
            )
        )
        if response.data is None:
            _raise_for_errors(response.errors, gone=AccountGone)
        user = response.data.data
        followers = (user.get("public_metrics") or {}).get("followers_count")
        return AccountInfo(
            SLUG, str(user["id"]), user["username"], followers, bio=user.get("description")
        )

    def fetch_post(self, post_id_or_url: str, author_handle: str | None = None) -> PostRef:
        """A post by id or status link; ``author_handle`` only helps the keyless oEmbed URL."""
        post_id, handle = parse_status_url(post_id_or_url)
        if not self.connected():
            return fetch_oembed(post_id, handle or author_handle)
        response = self._call(
            lambda: self.client.get_tweet(
                post_id, tweet_fields=TWEET_FIELDS, expansions=["author_id"]
            )
        )
        if response.data is None:
            _raise_for_errors(response.errors, gone=PostGone)
        return _post_ref(response.data.data, _handles(response.includes))

    def find_reposts(
        self, official_post_id: str, since_id: str | None = None
    ) -> tuple[list[RepostMatch], str | None, int]:
        """Retweets and quotes of the official post, via one paged recent search."""
        post_id, _ = parse_status_url(official_post_id)
        matches: list[RepostMatch] = []
        newest: str | None = None
        calls = 0
        for page in self._search_pages(post_id, since_id):
            calls += 1
            handles = _handles(page.includes)
            for tweet in page.data or []:
                match = _repost_match(tweet.data, post_id, handles)
                if match is not None:
                    matches.append(match)
            newest = _newer(newest, page.meta.get("newest_id"))
        return matches, newest, calls

    def metrics(self, post_ids: Sequence[str]) -> dict[str, Metrics]:
        """Public metrics (impression_count included) for up to 100 posts per call.

        A plain retweet gets empty Metrics: its public_metrics describe the retweeted post, so
        summing them would count the official post once per repost. Ids X answers with a
        resource-not-found error (deleted posts) are added to ``self.gone``.
        """
        result: dict[str, Metrics] = {}
        ids = list(dict.fromkeys(post_ids))
        fields = ["public_metrics", "referenced_tweets"]
        for start in range(0, len(ids), MAX_IDS_PER_CALL):
            chunk = ids[start : start + MAX_IDS_PER_CALL]
            response = self._call(partial(self.client.get_tweets, chunk, tweet_fields=fields))
            for tweet in response.data or []:
                result[str(tweet.data["id"])] = _metrics(tweet.data)
            self.gone.update(_not_found_ids(response.errors))
        return result

    def lookup_accounts(self, user_ids: Sequence[str]) -> dict[str, AccountInfo]:
        """Accounts by X user id, 100 per call; unknown or suspended ids are absent."""
        result: dict[str, AccountInfo] = {}
        ids = list(dict.fromkeys(user_ids))
        for start in range(0, len(ids), MAX_IDS_PER_CALL):
            chunk = ids[start : start + MAX_IDS_PER_CALL]
            response = self._call(
                partial(self.client.get_users, ids=chunk, user_fields=["public_metrics"])
            )
            for user in response.data or []:
                data = user.data
                followers = (data.get("public_metrics") or {}).get("followers_count")
                result[str(data["id"])] = AccountInfo(
                    SLUG, str(data["id"]), data["username"], followers
                )
        return result

    def lookup_handles(self, handles: Sequence[str]) -> dict[str, AccountInfo]:
        """Accounts by username (GET /2/users/by), 100 per call, keyed by the lower-case
        username asked for; unknown or suspended ones are absent, the suspended ones are
        added to ``self.suspended``."""
        result: dict[str, AccountInfo] = {}
        names = list(dict.fromkeys(h.strip().removeprefix("@").lower() for h in handles))
        for start in range(0, len(names), MAX_IDS_PER_CALL):
            chunk = names[start : start + MAX_IDS_PER_CALL]
            response = self._call(
                partial(self.client.get_users, usernames=chunk, user_fields=["public_metrics"])
            )
            for user in response.data or []:
                data = user.data
                followers = (data.get("public_metrics") or {}).get("followers_count")
                result[str(data["username"]).lower()] = AccountInfo(
                    SLUG, str(data["id"]), data["username"], followers
                )
            self.suspended.update(
                str(error.get("value") or error.get("resource_id") or "").lower()
                for error in response.errors
                if "suspended" in str(error.get("detail", "")).lower()
            )
        return result

    def _search_pages(self, post_id: str, since_id: str | None) -> Iterator[Any]:
        query = f"retweets_of_tweet_id:{post_id} OR quotes_of_tweet_id:{post_id}"
        next_token: str | None = None
        while True:
            params: dict[str, Any] = {
                "max_results": MAX_IDS_PER_CALL,
                "tweet_fields": TWEET_FIELDS,
                "expansions": ["author_id"],
            }
            if since_id:
                params["since_id"] = since_id
            if next_token:
                params["next_token"] = next_token
            page = self._call(partial(self.client.search_recent_tweets, query, **params))
            yield page
            next_token = page.meta.get("next_token")
            if not next_token:
                return

    def _call(self, request: Callable[[], _T]) -> _T:
        """Run one billed API call, translating tweepy's errors into the channel contract."""
        if not self.connected():
            raise NotConnected(SLUG)
        self.calls += 1
        try:
            return request()
        except tweepy.TooManyRequests as exc:
            raise RateLimited(SLUG, _reset_at(exc.reset_time), "HTTP 429") from exc
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            raise AuthError(SLUG, _api_detail(exc)) from exc
        except tweepy.NotFound as exc:
            raise PostGone(SLUG, _api_detail(exc)) from exc
        except tweepy.HTTPException as exc:
            raise ChannelError(SLUG, _api_detail(exc)) from exc
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise ChannelError(SLUG, type(exc).__name__) from exc


def from_settings() -> XPlatform:
    settings = get_settings().x
    return XPlatform(credential("x.bearer_token"), settings.api_base_url)


def _reset_at(reset_time: int | None) -> datetime:
    """X's x-rate-limit-reset is a Unix time; without it, retry in 15 minutes (X's window)."""
    if reset_time is None:
        return utcnow().replace(microsecond=0) + timedelta(minutes=15)
    return datetime.fromtimestamp(reset_time, UTC)


def _api_detail(exc: tweepy.HTTPException) -> str:
    status = getattr(exc.response, "status_code", "?")
    return f"HTTP {status}: " + "; ".join(str(m) for m in exc.api_messages)[:300]


def _raise_for_errors(errors: list[dict[str, Any]], *, gone: type[ChannelError]) -> None:
    """A 200 without data: map X's problem types (documented in errors[].type)."""
    types = {error.get("type") for error in errors}
    detail = "; ".join(str(error.get("detail", "")) for error in errors)[:300]
    if PROBLEM_NOT_FOUND in types:
        raise gone(SLUG, detail)
    if PROBLEM_NOT_AUTHORIZED in types:
        raise Unverifiable(SLUG, detail)
    raise ChannelError(SLUG, detail or "no data")


def _not_found_ids(errors: list[dict[str, Any]]) -> set[str]:
    """Ids in a partial answer's errors[] that X says do not exist."""
    ids = (
        error.get("resource_id") or error.get("value")
        for error in errors
        if error.get("type") == PROBLEM_NOT_FOUND
    )
    return {str(i) for i in ids if i}


def _handles(includes: dict[str, Any]) -> dict[str, str]:
    return {str(user.data["id"]): user.data["username"] for user in includes.get("users", [])}


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _written_text(tweet: dict[str, Any]) -> str:
    """The text with each t.co link put back as its author wrote it.

    X stores every link in a post's text as a t.co link; the link as written is only in
    ``entities.urls[].expanded_url`` (``unwound_url`` is where it redirects to: for a tracking
    link, the campaign page, not the link itself).
    """
    text = str(tweet.get("text", ""))
    for url in (tweet.get("entities") or {}).get("urls") or []:
        short, written = url.get("url"), url.get("expanded_url")
        if short and written:
            text = text.replace(short, written)
    return text


def _post_ref(tweet: dict[str, Any], handles: dict[str, str]) -> PostRef:
    author_id = str(tweet["author_id"]) if tweet.get("author_id") else None
    handle = handles.get(author_id or "")
    post_id = str(tweet["id"])
    return PostRef(
        platform=SLUG,
        post_id=post_id,
        url=status_url(post_id, handle),
        author_id=author_id,
        author_handle=handle,
        created_at=_parse_time(tweet.get("created_at")),
        text=_written_text(tweet),
        referenced_post_ids=tuple(str(ref["id"]) for ref in tweet.get("referenced_tweets", [])),
    )


def _repost_match(
    tweet: dict[str, Any], official_id: str, handles: dict[str, str]
) -> RepostMatch | None:
    """Classify a search hit by how it references the official post (skip anything else)."""
    for ref in tweet.get("referenced_tweets", []):
        kind = REFERENCE_KINDS.get(ref.get("type", ""))
        if str(ref.get("id")) == official_id and kind is not None:
            return RepostMatch(_post_ref(tweet, handles), kind)
    return None


def _newer(current: str | None, candidate: str | None) -> str | None:
    """Tweet ids are snowflakes: numerically larger is newer."""
    if candidate is None:
        return current
    if current is None or int(candidate) > int(current):
        return str(candidate)
    return current


def _metrics(tweet: dict[str, Any]) -> Metrics:
    if any(ref.get("type") == "retweeted" for ref in tweet.get("referenced_tweets") or []):
        return Metrics()  # a plain retweet has no counts of its own
    public: dict[str, Any] = tweet.get("public_metrics") or {}
    return Metrics(
        impressions=public.get("impression_count"),
        likes=public.get("like_count"),
        reposts=public.get("retweet_count"),
        replies=public.get("reply_count"),
    )


class _ParagraphText(HTMLParser):
    """The text of the first <p> in oEmbed's blockquote (the post body)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.done = False
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "p" and not self.done:
            self.depth += 1
        elif tag == "br" and self.depth:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self.depth:
            self.depth -= 1
            self.done = True

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def _oembed_text(html: str) -> str:
    parser = _ParagraphText()
    parser.feed(html)
    return unescape("".join(parser.parts)).strip()


def fetch_oembed(post_id: str, handle: str | None = None) -> PostRef:
    """Keyless check that a post exists and who wrote it (no id, date or metrics)."""
    url = f"https://twitter.com/{handle or 'i'}/status/{post_id}"
    try:
        with http.client() as client:
            response = client.get(OEMBED_URL, params={"url": url, "omit_script": "true"})
    except httpx.HTTPError as exc:
        raise ChannelError(SLUG, f"oEmbed: {type(exc).__name__}") from exc
    if response.status_code == 404:
        raise PostGone(SLUG, "oEmbed 404")
    if response.status_code == 403:
        raise Unverifiable(SLUG, "oEmbed 403 (protected or suspended)")
    if response.status_code != 200:
        raise ChannelError(SLUG, f"oEmbed HTTP {response.status_code}")
    body = response.json()
    author = urlsplit(body.get("author_url", "")).path.strip("/") or handle
    return PostRef(
        platform=SLUG,
        post_id=post_id,
        url=status_url(post_id, author),
        author_id=None,
        author_handle=author,
        created_at=None,
        text=_oembed_text(body.get("html", "")),
        referenced_post_ids=(),
    )
