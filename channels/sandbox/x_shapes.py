"""X API v2 response shapes, built the way X documents them (https://docs.x.com/x-api).

One module for both fakes of X: the demo sandbox (``channels.sandbox.x_api``) and the tests'
transport adapter (``tests/channels/fakes_x.py``), so the two can never drift apart.

- ``tweet``, ``retweet``, ``quote``, ``reply``: post objects as X stores them. Every link in the
  text is replaced by a t.co link and described in ``entities.urls`` (``url``,
  ``expanded_url``, ``display_url``, ``unwound_url``); a retweet's text is ``RT @handle: ``
  and the original's text cut at 140 characters with "…", with ``referenced_tweets`` of type
  ``retweeted`` and the original's retweet count; a quote references ``quoted``.
- ``user``: a user object; ``single``, ``search_page``: whole answers (``data``,
  ``includes.users``, ``meta`` with ``result_count``, ``newest_id``, ``oldest_id``,
  ``next_token``); ``next_token`` / ``token_id``: the opaque paging token.
- ``not_found``, ``problem``, ``invalid``: X's error item and problem bodies;
  ``rate_headers``: the ``x-rate-limit-*`` headers; ``oembed``: publish.twitter.com's answer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]

NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
RATE_LIMIT_HEADERS = ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
CREATED_AT = "2025-03-01T02:30:00.000Z"
RT_LENGTH = 140  # X cuts a retweet's text here with "…"; the full text is on the original

_LINK = re.compile(r"https?://\S+")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_MENTION = re.compile(r"(?<!\w)@(\w{1,15})")
_TOKEN_PREFIX = "b26v"  # noqa: S105 - a paging token, no secret
_TOKEN_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - digits


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


def shortened(text: str, unwound: dict[str, str]) -> tuple[str, list[Json]]:
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


def entities(text: str, urls: list[Json]) -> Json:
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
    stored, urls = shortened(text, unwound or {})
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
    if found := entities(stored, urls):
        data["entities"] = found
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
    if len(text) > RT_LENGTH:
        text = text[: RT_LENGTH - 1] + "…"
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
    if found := entities(text, urls):
        data["entities"] = found
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


def rate_headers(limit: int, remaining: int, reset: int | None) -> dict[str, str]:
    """``x-rate-limit-*`` of an answer; ``reset`` is the window's end in Unix time."""
    headers = {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(max(0, remaining))}
    if reset is not None:
        headers["x-rate-limit-reset"] = str(reset)
    return headers


def next_token(oldest_id: str) -> str:
    """An opaque next_token: the last id of the page, in base 36."""
    number, digits = int(oldest_id), ""
    while number:
        number, rest = divmod(number, 36)
        digits = _TOKEN_ALPHABET[rest] + digits
    return _TOKEN_PREFIX + (digits or "0")


def token_id(token: str | None) -> int | None:
    """The id every result of the page a ``next_token`` asks for is older than."""
    if not token:
        return None
    if not token.startswith(_TOKEN_PREFIX):
        raise ValueError(token)
    return int(token.removeprefix(_TOKEN_PREFIX), 36)
