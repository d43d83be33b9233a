"""Personal tracking links: ``GET /r/{code}`` counts the click and redirects to the post link.

No sign-in and no session: the visitor is a member of the public who tapped a
link in an ASN's repost, and every repost can bring many visitors. So the handler
answers from the process's cache of code targets (one indexed read on a miss, in a
thread) and only appends the click to the in-memory buffer, which a background
thread writes in batches (assignments.tracking). The app's lifespan starts and
stops the buffer, so a clean shutdown writes every click counted.

Known codes are answered by :class:`TrackingFastPath`, which ``web.app.GaungApp``
calls before anything of FastAPI's: before its telemetry, body-limit and error
wrappers, the request metrics and the security headers (both of which it does
itself), the session, the locale negotiation and the router (150-odd routes matched
one by one), so a cached redirect costs little more than a bare ASGI app's
(bench/redirect.py). It keeps plain tallies instead of updating Prometheus per
request: they are added to the counters on the click thread's every round and before
a scrape (:func:`publish_tallies`), and its redirects are counted but not timed (a
cached answer takes microseconds; the time that matters is the proxy's). An unknown
code goes down the normal stack to :func:`follow`, which renders the 404 page.

Not every 302 is a click (:func:`count_visit`): ``HEAD`` is answered like ``GET`` and
not counted; known bots and link-preview fetchers (a cached verdict per user agent,
assignments.tracking.is_bot) are tallied apart; and a visitor who carries a signed-in
staff session is not counted at all (Humas testing their links). That check reads the
session cookie only when the request has one, which a member of the public arriving
from a social network almost never does: its signature is verified (the same signer
as Starlette's SessionMiddleware, so it cannot be forged) and its ``uid``, sign-in and
last-use times are read, the verdict cached per cookie value until the session's
limits would end it. The user is not looked up: a session ended on the server (a
deactivation, a new password) still within those limits is taken for staff.
"""

from __future__ import annotations

import atexit
import json
import threading
import time
from base64 import b64decode
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, TimestampSigner
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assignments.tracking import (
    ClickBuffer,
    Target,
    TargetCache,
    clicker_hash,
    is_bot,
    lookup,
    valid_code,
)
from gaung.db import get_engine
from gaung.settings import get_settings
from web import metrics
from web.deps import ISSUED_AT, LAST_SEEN, address_from, render
from web.headers import SecurityHeadersMiddleware

router = APIRouter(include_in_schema=False)

# The code in the URL is personal: the target site must not learn it from the Referer.
_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
PREFIX = "/r/"
_ANSWERED = frozenset({"GET", "HEAD"})
_ROUTE = "/r/{code}"  # the metrics label of fast-path answers
_FROM_CACHE = metrics.TARGET_LOOKUPS.labels("cache")
_FROM_DATABASE = metrics.TARGET_LOOKUPS.labels("database")
_UNKNOWN = "gaung.unknown_code"
SESSION_COOKIE = "gaung_session"  # web.app's SessionMiddleware
_SESSION_PREFIX = SESSION_COOKIE.encode() + b"="

_settings = get_settings().tracking
targets = TargetCache(size=_settings.cache_size, ttl=_settings.cache_seconds)
_published = {"redirects": 0, "clicks": 0, "hits": 0, "fast": 0, "fast_head": 0}
_publish_lock = threading.Lock()


def publish_tallies() -> None:
    """Add what the hot path tallied since last time to the Prometheus counters.

    Redirects are tallied by :func:`count_visit`'s callers, clicks by the buffer, cache
    hits by the cache, the fast path's answers by :class:`TrackingFastPath` (the
    others are counted by the request middleware). Runs on the click thread's every
    round and before a scrape.
    """
    fast = TrackingFastPath
    with _publish_lock:
        now = {
            "redirects": Tally.redirects,
            "clicks": clicks.added,
            "hits": targets.hits,
            "fast": fast.served,
            "fast_head": fast.served_head,
        }
        new = {name: count - _published[name] for name, count in now.items()}
        _published.update(now)
    if new["redirects"] > 0:
        metrics.REDIRECTS.inc(new["redirects"])
    if new["clicks"] > 0:
        metrics.CLICKS_BUFFERED.inc(new["clicks"])
    if new["hits"] > 0:
        _FROM_CACHE.inc(new["hits"])
    if new["fast"] > 0:
        metrics.count_requests("GET", _ROUTE, 302, new["fast"])
    if new["fast_head"] > 0:
        metrics.count_requests("HEAD", _ROUTE, 302, new["fast_head"])


class Tally:
    redirects = 0  # 302s sent from /r/ (both paths), clicks or not: a plain tally


clicks = ClickBuffer(
    flush_seconds=_settings.flush_seconds,
    flush_clicks=_settings.flush_clicks,
    on_flush=metrics.CLICKS_FLUSHED.inc,
    on_drop=metrics.CLICKS_DROPPED.inc,
    on_tick=publish_tallies,
)
metrics.before_scrape.append(publish_tallies)
# `gaung serve` stops through the lifespan below; this covers any other way out.
atexit.register(clicks.stop)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """Start the click writer with the app; on shutdown write every click still pending."""
    clicks.start()
    try:
        yield
    finally:
        await run_in_threadpool(clicks.stop)
        targets.clear()


@lru_cache(maxsize=1)
def _session_signer(secret: str) -> TimestampSigner:
    return TimestampSigner(secret)  # as starlette.middleware.sessions builds it


@lru_cache(maxsize=1024)
def _staff_until(cookie: bytes) -> float:
    """Until when (Unix seconds) this session cookie is a live staff session; 0: not one.

    The limits are those of web.deps.session_alive and of the cookie's signature.
    """
    settings = get_settings()
    auth = settings.auth
    try:
        data, signed_at = _session_signer(settings.resolved_secret_key()).unsign(
            cookie, return_timestamp=True
        )
        session = json.loads(b64decode(data))
    except (BadSignature, ValueError):
        return 0.0
    if not isinstance(session, dict):
        return 0.0
    uid, issued, seen = session.get("uid"), session.get(ISSUED_AT), session.get(LAST_SEEN)
    if not isinstance(uid, int) or not isinstance(issued, int) or not isinstance(seen, int):
        return 0.0
    return float(
        min(
            signed_at.timestamp() + auth.session_max_age_seconds,
            issued + auth.session_max_age_seconds,
            seen + auth.session_idle_seconds,
        )
    )


def staff_signed_in(cookie_header: bytes, now: float) -> bool:
    """Whether a Cookie header carries a live, signed staff session (see the module doc)."""
    for part in cookie_header.split(b";"):
        part = part.strip()
        if part.startswith(_SESSION_PREFIX):
            return _staff_until(part[len(_SESSION_PREFIX) :]) > now
    return False


def count_visit(
    target: Target,
    referer: str | None,
    user_agent: str,
    cookie: bytes | None,
    peer: str,
    forwarded_for: str,
) -> None:
    """Count a GET of a tracking link: a click, a bot's fetch, or nothing (staff)."""
    now = time.time()
    if cookie is not None and _SESSION_PREFIX in cookie and staff_signed_in(cookie, now):
        return
    if is_bot(user_agent):
        clicks.add_bot(target, now)
        return
    address = address_from(peer, forwarded_for)
    clicks.add(target, referer, now, clicker_hash(address, user_agent, now))


def _find(code: str) -> Target | None:
    """Cache first; on a miss one indexed read, remembered when the code is real."""
    with get_engine().connect() as conn:
        found = lookup(conn, code)
    if found is not None:
        targets.put(code, found)
    return found


@router.api_route("/r/{code}", methods=["GET", "HEAD"])
async def follow(request: Request, code: str) -> Response:
    """302 to the post's link, or a 404 page: an unknown code never redirects anywhere."""
    target = targets.get(code)  # a hit is tallied by the cache (publish_tallies)
    if target is None and request.scope.get(_UNKNOWN) != code and valid_code(code):
        target = await run_in_threadpool(_find, code)
        if target is not None:
            _FROM_DATABASE.inc()
    if target is None:
        metrics.TARGET_LOOKUPS.labels("unknown").inc()
        response = render(request, "not_found.html", status_code=404)
        response.headers.update(_HEADERS)
        return response
    if request.method == "GET":
        headers = request.headers
        count_visit(
            target,
            headers.get("referer"),
            headers.get("user-agent", ""),
            headers.get("cookie", "").encode("latin-1") or None,
            request.client.host if request.client else "",
            headers.get("x-forwarded-for", ""),
        )
    Tally.redirects += 1
    return RedirectResponse(target.url, status_code=302, headers=_HEADERS)


def _location(url: str) -> bytes:
    """The Location header exactly as Starlette's RedirectResponse quotes it."""
    return quote(url, safe=":/%#?=@[]!$&'()*+,;").encode("latin-1")


class TrackingFastPath:
    """Answer ``GET``/``HEAD /r/{code}`` for a known code at once; the rest passes through.

    It sits outside the security-header middleware, so it sends that middleware's
    headers itself (taken from an instance of it: one source of truth).
    """

    served = 0  # GET redirects answered here, in this process (publish_tallies reads it)
    served_head = 0  # and HEAD ones

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        security = SecurityHeadersMiddleware(app, hsts=hsts).headers
        fixed = {**security, **_HEADERS, "Content-Length": "0"}  # ours win, as in follow()
        self._fixed = tuple((k.lower().encode(), v.encode()) for k, v in fixed.items())
        self._answers = lru_cache(maxsize=1024)(self._answer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _ANSWERED:
            path: str = scope["path"]
            if path.startswith(PREFIX) and valid_code(code := path[len(PREFIX) :]):
                target = targets.get(code)  # a hit is tallied by the cache
                if target is None:
                    target = await run_in_threadpool(_find, code)
                    if target is not None:
                        _FROM_DATABASE.inc()
                if target is not None:
                    await self._redirect(scope, send, target)
                    return
                scope[_UNKNOWN] = code  # follow() answers 404 without a second read
        await self.app(scope, receive, send)

    async def _redirect(self, scope: Scope, send: Send, target: Target) -> None:
        if scope["method"] == "GET":
            referer = cookie = None
            agent = forwarded = b""
            for name, value in scope["headers"]:
                if name == b"referer":
                    referer = value
                elif name == b"user-agent":
                    agent = value
                elif name == b"cookie":
                    cookie = value if cookie is None else cookie + b"; " + value
                elif name == b"x-forwarded-for":
                    forwarded = value if not forwarded else forwarded + b"," + value
            client = scope.get("client")
            count_visit(
                target,
                None if referer is None else referer.decode("latin-1"),
                agent.decode("latin-1"),
                cookie,
                client[0] if client else "",
                forwarded.decode("latin-1"),
            )
            TrackingFastPath.served += 1
        else:
            TrackingFastPath.served_head += 1
        Tally.redirects += 1
        start, body = self._answers(target.url)
        await send(start)
        await send(body)

    def _answer(self, url: str) -> tuple[Message, Message]:
        """The two ASGI messages of a 302 to ``url`` (servers only read them)."""
        headers = [(b"location", _location(url)), *self._fixed]
        start: Message = {"type": "http.response.start", "status": 302, "headers": headers}
        return start, {"type": "http.response.body", "body": b""}
