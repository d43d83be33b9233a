"""The X API v2 network edge for tests: a requests transport adapter and payload builders.

Payloads follow X's documented v2 shapes (data / includes.users / meta / errors); the adapter
answers each route from a queue of canned responses and records every request it saw.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

BASE_URL = "https://api.x.test"
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"


class FakeX(BaseAdapter):
    """Mount on a tweepy client's session; queue responses per path with ``add``."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, deque[tuple[int, Any, dict[str, str]]]] = defaultdict(deque)
        self.requests: list[requests.PreparedRequest] = []

    def add(
        self, path: str, body: Any, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        self.routes[path].append((status, body, headers or {}))

    def params(self, index: int) -> dict[str, str]:
        """The query parameters of the ``index``-th request, one value each."""
        query = parse_qs(urlsplit(self.requests[index].url or "").query)
        return {key: values[0] for key, values in query.items()}

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        self.requests.append(request)
        path = urlsplit(request.url or "").path
        queue = self.routes.get(path)
        if not queue:
            raise AssertionError(f"unexpected request to {request.url}")
        status, body, headers = queue.popleft()
        response = requests.Response()
        response.status_code = status
        response.reason = "OK" if status == 200 else "Error"
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"content-type": "application/json", **headers})
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""


def user(
    user_id: str, username: str, followers: int = 1200, description: str = ""
) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": username.title(),
        "username": username,
        "description": description,
        "public_metrics": {
            "followers_count": followers,
            "following_count": 80,
            "tweet_count": 512,
            "listed_count": 3,
        },
    }


def tweet(
    tweet_id: str,
    author_id: str,
    text: str = "Info resmi #InfoResmiASN",
    *,
    references: list[tuple[str, str]] | None = None,
    created_at: str = "2025-03-01T02:30:00.000Z",
    impressions: int = 0,
    likes: int = 0,
    retweets: int = 0,
    replies: int = 0,
) -> dict[str, Any]:
    """A tweet object; ``references`` are (type, id) pairs such as ("quoted", "123")."""
    data: dict[str, Any] = {
        "id": tweet_id,
        "text": text,
        "author_id": author_id,
        "created_at": created_at,
        "edit_history_tweet_ids": [tweet_id],
        "public_metrics": {
            "retweet_count": retweets,
            "reply_count": replies,
            "like_count": likes,
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": impressions,
        },
    }
    if references:
        data["referenced_tweets"] = [{"type": kind, "id": ref} for kind, ref in references]
    return data


def single(data: dict[str, Any], users: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"data": data}
    if users:
        body["includes"] = {"users": users}
    return body


def search_page(
    tweets: list[dict[str, Any]], users: list[dict[str, Any]], next_token: str | None = None
) -> dict[str, Any]:
    """One page of GET /2/tweets/search/recent (newest first, as X returns them)."""
    meta: dict[str, Any] = {"result_count": len(tweets)}
    if tweets:
        meta["newest_id"] = tweets[0]["id"]
        meta["oldest_id"] = tweets[-1]["id"]
    if next_token:
        meta["next_token"] = next_token
    body: dict[str, Any] = {"meta": meta}
    if tweets:
        body["data"] = tweets
        body["includes"] = {"users": users}
    return body


def not_found(resource_id: str, resource_type: str = "tweet") -> dict[str, Any]:
    """X's 200 answer for a deleted or unknown resource."""
    return {
        "errors": [
            {
                "value": resource_id,
                "detail": f"Could not find {resource_type} with id: [{resource_id}].",
                "title": "Not Found Error",
                "resource_type": resource_type,
                "parameter": "id",
                "resource_id": resource_id,
                "type": NOT_FOUND,
            }
        ]
    }


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    """An HTTP error body (401, 429, ...) in X's problem format."""
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}


def oembed(post_id: str, handle: str, text: str) -> dict[str, Any]:
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
