"""The APScheduler 3.x clock: each process polls the database queue on an interval.

APScheduler 3.x job stores must not be shared between processes, so every process
keeps its own in-memory scheduler with one interval job; the work itself lives in
the ``work_item`` table, which any number of processes claim from safely.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from gaung.db import utcnow
from gaung.settings import get_settings
from kernel.jobs import run_due
from kernel.recurring import enqueue_due
from scheduler.deliver import deliver_due
from scheduler.webhook_deliver import deliver_webhooks

log = logging.getLogger(__name__)

POLL_JOB_ID = "gaung-poll-queue"
DELIVER_JOB_ID = "gaung-deliver-outbox"
WEBHOOK_JOB_ID = "gaung-deliver-webhooks"
BATCH = 10
DELIVER_BATCH = 200
MAX_BACKOFF_SECONDS = 60.0
WEBHOOK_BATCH = 50


def settle_heap() -> None:
    """Once start-up is done (imports, wiring, settings): collect, then move every object
    left into the collector's permanent generation (``gc.freeze``). They live as long as
    the process, and a busy worker's full collections would otherwise walk them again
    and again (about 10 us a Web Push notice, bench/push.py)."""
    gc.collect()
    gc.freeze()


def worker_id() -> str:
    """Identifies this process in leases: unique across machines and processes."""
    return f"{socket.gethostname()}:{os.getpid()}"


class _Database:
    """Whether the clock's jobs may touch the database now; one gate for all of them.

    When it cannot be reached the worker says so in one line (not a traceback every tick)
    and waits longer after each failure, up to ``MAX_BACKOFF_SECONDS``.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures = 0
        self.resume_at = 0.0

    def ready(self) -> bool:
        return time.monotonic() >= self.resume_at

    def failed(self, job: str, exc: OperationalError) -> None:
        with self.lock:
            self.failures += 1
            delay = min(2.0**self.failures, MAX_BACKOFF_SECONDS)
            self.resume_at = time.monotonic() + delay
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        log.warning("%s: database unreachable (%s); trying again in %.0f s", job, reason, delay)

    def succeeded(self) -> None:
        with self.lock:
            if self.failures:
                log.info("database reachable again")
            self.failures = 0
            self.resume_at = 0.0


class _Job:
    """One interval job: runs ``body`` until it has nothing left to do or we are stopping."""

    def __init__(
        self, name: str, body: Callable[[], bool], database: _Database, stopping: threading.Event
    ) -> None:
        self.name = name
        self.body = body
        self.database = database
        self.stopping = stopping

    def __call__(self) -> None:
        if not self.database.ready():
            return
        try:
            while not self.stopping.is_set() and self.body():
                pass
        except OperationalError as exc:
            self.database.failed(self.name, exc)
        except Exception:
            log.exception("%s failed", self.name)
        else:
            self.database.succeeded()


class _Poller:
    """The clock's jobs on one engine, as one worker: the queue, the outbox, the webhooks."""

    def __init__(self, engine: Engine, worker: str) -> None:
        self.engine = engine
        self.worker = worker
        self.stopping = threading.Event()
        self.database = _Database()

    def job(self, name: str, body: Callable[[], bool]) -> _Job:
        return _Job(name, body, self.database, self.stopping)

    def queue(self) -> bool:
        """Queue this period's recurring items (no query once queued), run a batch of due work."""
        enqueue_due(self.engine)
        return run_due(self.engine, self.worker, limit=BATCH) == BATCH

    def outbox(self) -> bool:
        return deliver_due(self.engine, self.worker, limit=DELIVER_BATCH) > 0

    def webhooks(self) -> bool:
        return deliver_webhooks(self.engine, self.worker, limit=WEBHOOK_BATCH) > 0


def _add_poll_job(scheduler: BaseScheduler, poller: _Poller, first_run: datetime) -> None:
    seconds = get_settings().scheduler.poll_seconds
    scheduler.add_job(
        poller.job("work queue", poller.queue),
        "interval",
        name="work queue",
        seconds=seconds,
        id=POLL_JOB_ID,
        max_instances=1,
        coalesce=True,
        next_run_time=first_run,
    )
    # A job of its own, so a slow queue item never holds up notices (and vice versa).
    scheduler.add_job(
        poller.job("outbox", poller.outbox),
        "interval",
        name="outbox",
        seconds=seconds,
        id=DELIVER_JOB_ID,
        max_instances=1,
        coalesce=True,
        next_run_time=first_run,
    )
    # And one for webhooks: a slow receiver never holds up notices to ASN.
    scheduler.add_job(
        poller.job("webhooks", poller.webhooks),
        "interval",
        name="webhooks",
        seconds=seconds,
        id=WEBHOOK_JOB_ID,
        max_instances=1,
        coalesce=True,
        next_run_time=first_run,
    )


def start_background(engine: Engine) -> BackgroundScheduler:
    """Start polling in a background thread (``gaung serve``); call ``shutdown()`` to stop."""
    poller = _Poller(engine, worker_id())
    scheduler = BackgroundScheduler(timezone="UTC")
    _add_poll_job(scheduler, poller, utcnow())
    settle_heap()
    scheduler.start()
    log.info("scheduler started in background as %s", poller.worker)
    return scheduler


def run_worker(engine: Engine) -> None:
    """Poll in the foreground until SIGTERM or SIGINT (``gaung worker``).

    On a signal the current item is allowed to finish, so its lease is released
    properly instead of waiting to expire.
    """
    poller = _Poller(engine, worker_id())
    scheduler = BlockingScheduler(timezone="UTC")
    _add_poll_job(scheduler, poller, utcnow())
    settle_heap()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: worker %s stopping", signum, poller.worker)
        poller.stopping.set()
        if scheduler.running:
            scheduler.shutdown(wait=True)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("worker %s started", poller.worker)
    try:
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("worker %s stopped", poller.worker)
