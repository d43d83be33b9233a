"""``GET /metrics`` in the Prometheus text format, and the request-metrics middleware.

Counters and histograms live in prometheus-client's default registry. With several
web processes (``gaung serve --workers N``) ``PROMETHEUS_MULTIPROC_DIR`` is set and a
scrape adds up every process's values (prometheus-client's multiprocess mode).

The queue gauges are read from the database when scraped, not kept in memory, so they
are the same whichever process answers. Only the unfinished states are counted (an
index range on ``status``): done work items and sent messages grow without bound and
would make every scrape a full scan; their rates are the counters' job.

With ``metrics.token`` set, a scrape needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gaung.db import get_engine, utcnow
from gaung.settings import get_settings
from kernel.models import WorkItem, WorkStatus
from kernel.outbox import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

REQUESTS = Counter(
    "gaung_http_requests",
    "HTTP requests answered, by route template",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "gaung_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REDIRECTS = Counter("gaung_redirects", "Tracking-link redirects served (302)")
TARGET_LOOKUPS = Counter(
    "gaung_redirect_lookups",
    "Where a tracking code's target came from: the in-process cache, the database, or unknown",
    ["result"],
)
CLICKS_BUFFERED = Counter("gaung_clicks_buffered", "Clicks taken into the in-memory buffer")
CLICKS_FLUSHED = Counter("gaung_clicks_flushed", "Buffered clicks written to the database")
CLICKS_DROPPED = Counter("gaung_clicks_dropped", "Buffered clicks lost: the buffer overflowed")

_work = WorkItem.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
OPEN_WORK = [WorkStatus.QUEUED, WorkStatus.RUNNING, WorkStatus.FAILED]
OPEN_OUTBOX = [
    OutboxStatus.QUEUED,
    OutboxStatus.SENDING,
    OutboxStatus.UNKNOWN,
    OutboxStatus.FAILED,
]


class QueueCollector(Collector):
    """Work items and outbox messages per state, and how late the oldest due one is."""

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except SQLAlchemyError:
            # A scrape must still answer (the process metrics) when the database is down.
            log.exception("metrics: reading the queue gauges failed")

    def _collect(self) -> Iterator[Metric]:
        now = utcnow()
        work = GaugeMetricFamily(
            "gaung_work_items", "Work items not done, by kind and status", labels=["kind", "status"]
        )
        outbox = GaugeMetricFamily(
            "gaung_outbox_messages",
            "Outbox messages not sent, by messenger and status",
            labels=["messenger", "status"],
        )
        lag = GaugeMetricFamily(
            "gaung_queue_oldest_due_seconds",
            "How long the oldest due, unclaimed item has waited",
            labels=["queue"],
        )
        with get_engine().connect() as conn:
            for kind, status, count in conn.execute(
                select(_work.c.kind, _work.c.status, func.count())
                .where(_work.c.status.in_(OPEN_WORK))
                .group_by(_work.c.kind, _work.c.status)
            ):
                work.add_metric([kind, status], count)
            for messenger, status, count in conn.execute(
                select(_outbox.c.messenger, _outbox.c.status, func.count())
                .where(_outbox.c.status.in_(OPEN_OUTBOX))
                .group_by(_outbox.c.messenger, _outbox.c.status)
            ):
                outbox.add_metric([messenger, status], count)
            for name, table in (("work_item", _work), ("outbox", _outbox)):
                oldest = conn.scalar(
                    select(func.min(table.c.run_at)).where(
                        table.c.status == "queued", table.c.run_at <= now
                    )
                )
                waited = (now - oldest).total_seconds() if oldest is not None else 0.0
                lag.add_metric([name], max(waited, 0.0))
        yield work
        yield outbox
        yield lag


_queues = CollectorRegistry(auto_describe=False)
_queues.register(QueueCollector())
# Called before each scrape: tallies kept as plain numbers on hot paths (the tracking
# redirect) are added to their counters then, and by their own thread in between.
before_scrape: list[Callable[[], None]] = []


def _process_metrics() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _authorised(request: Request) -> bool:
    token = get_settings().metrics.token
    if not token:
        return True
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """The Prometheus exposition: this process's (or all web processes') counters, and the
    queue gauges read from the database now."""
    if not _authorised(request):
        return Response(
            "metrics need a bearer token\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            media_type="text/plain",
        )
    for publish in before_scrape:
        publish()
    body = _process_metrics() + generate_latest(_queues)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def route_of(scope: Scope) -> str:
    """The matched route's template ("/r/{code}"), never the raw path: labels stay few."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("path", "").startswith(("/static/", "/media/")):
        return "/" + str(scope["path"]).split("/")[1]
    return "(unmatched)"


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            record_request(scope["method"], route_of(scope), status, time.perf_counter() - start)


# labels() hashes and locks on every call; the few label sets in use are kept here.
_counters: dict[tuple[str, str, str], Counter] = {}
_timers: dict[tuple[str, str], Histogram] = {}


def count_requests(method: str, route: str, status: int, count: int = 1) -> None:
    """Count answered requests without timing them (the redirect fast path's tallies)."""
    key = (method, route, str(status))
    counter = _counters.get(key)
    if counter is None:
        counter = _counters[key] = REQUESTS.labels(*key)
    counter.inc(count)


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one answered request (the middleware)."""
    count_requests(method, route, status)
    timer = _timers.get((method, route))
    if timer is None:
        timer = _timers[method, route] = LATENCY.labels(method, route)
    timer.observe(seconds)
