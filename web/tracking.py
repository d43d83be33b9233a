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
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assignments.tracking import ClickBuffer, Target, TargetCache, lookup, valid_code
from gaung.db import get_engine
from gaung.settings import get_settings
from web import metrics
from web.deps import render
from web.headers import SecurityHeadersMiddleware

router = APIRouter(include_in_schema=False)

# The code in the URL is personal: the target site must not learn it from the Referer.
_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
PREFIX = "/r/"
_ROUTE = "/r/{code}"  # the metrics label of fast-path answers
_FROM_CACHE = metrics.TARGET_LOOKUPS.labels("cache")
_FROM_DATABASE = metrics.TARGET_LOOKUPS.labels("database")
_UNKNOWN = "gaung.unknown_code"

_settings = get_settings().tracking
targets = TargetCache(size=_settings.cache_size, ttl=_settings.cache_seconds)
_published = {"clicks": 0, "hits": 0, "fast": 0}
_publish_lock = threading.Lock()


def publish_tallies() -> None:
    """Add what the hot path tallied since last time to the Prometheus counters.

    Every redirect takes exactly one click into the buffer, so one tally gives both
    ``gaung_redirects_total`` and ``gaung_clicks_buffered_total``; cache hits are
    tallied by the cache, the fast path's answers by :class:`TrackingFastPath` (the
    others are counted by the request middleware). Runs on the click thread's every
    round and before a scrape.
    """
    with _publish_lock:
        now = {"clicks": clicks.added, "hits": targets.hits, "fast": TrackingFastPath.served}
        new = {name: count - _published[name] for name, count in now.items()}
        _published.update(now)
    if new["clicks"] > 0:
        metrics.REDIRECTS.inc(new["clicks"])
        metrics.CLICKS_BUFFERED.inc(new["clicks"])
    if new["hits"] > 0:
        _FROM_CACHE.inc(new["hits"])
    if new["fast"] > 0:
        metrics.count_requests("GET", _ROUTE, 302, new["fast"])


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


def _find(code: str) -> Target | None:
    """Cache first; on a miss one indexed read, remembered when the code is real."""
    with get_engine().connect() as conn:
        found = lookup(conn, code)
    if found is not None:
        targets.put(code, found)
    return found


@router.get("/r/{code}")
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
    clicks.add(target, request.headers.get("referer"))
    return RedirectResponse(target.url, status_code=302, headers=_HEADERS)


def _location(url: str) -> bytes:
    """The Location header exactly as Starlette's RedirectResponse quotes it."""
    return quote(url, safe=":/%#?=@[]!$&'()*+,;").encode("latin-1")


class TrackingFastPath:
    """Answer ``GET /r/{code}`` for a known code at once; everything else passes through.

    It sits outside the security-header middleware, so it sends that middleware's
    headers itself (taken from an instance of it: one source of truth).
    """

    served = 0  # redirects answered here, in this process (publish_tallies reads it)

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        security = SecurityHeadersMiddleware(app, hsts=hsts).headers
        fixed = {**security, **_HEADERS, "Content-Length": "0"}  # ours win, as in follow()
        self._fixed = tuple((k.lower().encode(), v.encode()) for k, v in fixed.items())
        self._answers = lru_cache(maxsize=1024)(self._answer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
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
        referer = None
        for name, value in scope["headers"]:
            if name == b"referer":
                referer = value.decode("latin-1")
                break
        clicks.add(target, referer)
        TrackingFastPath.served += 1
        start, body = self._answers(target.url)
        await send(start)
        await send(body)

    def _answer(self, url: str) -> tuple[Message, Message]:
        """The two ASGI messages of a 302 to ``url`` (servers only read them)."""
        headers = [(b"location", _location(url)), *self._fixed]
        start: Message = {"type": "http.response.start", "status": 302, "headers": headers}
        return start, {"type": "http.response.body", "body": b""}
