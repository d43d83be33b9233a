"""The APScheduler 3.x clock: each process polls the database queue on an interval.

APScheduler 3.x job stores must not be shared between processes, so every process
keeps its own in-memory scheduler with one interval job; the work itself lives in
the ``work_item`` table, which any number of processes claim from safely.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import datetime
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import Engine

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
WEBHOOK_BATCH = 50


def worker_id() -> str:
    """Identifies this process in leases: unique across machines and processes."""
    return f"{socket.gethostname()}:{os.getpid()}"


class _Poller:
    """The interval job: drains due work in batches until none is left or we are stopping."""

    def __init__(self, engine: Engine, worker: str) -> None:
        self.engine = engine
        self.worker = worker
        self.stopping = threading.Event()

    def __call__(self) -> None:
        try:
            enqueue_due(self.engine)
            while (
                not self.stopping.is_set()
                and run_due(self.engine, self.worker, limit=BATCH) == BATCH
            ):
                pass
        except Exception:
            # The database may be briefly unreachable; the next tick tries again.
            log.exception("polling the work queue failed")


class _Deliverer:
    """The outbox interval job: sends due messages until none is left or we are stopping."""

    def __init__(self, engine: Engine, worker: str, stopping: threading.Event) -> None:
        self.engine = engine
        self.worker = worker
        self.stopping = stopping

    def __call__(self) -> None:
        try:
            while (
                not self.stopping.is_set()
                and deliver_due(self.engine, self.worker, limit=DELIVER_BATCH) > 0
            ):
                pass
        except Exception:
            log.exception("delivering the outbox failed")


class _WebhookDeliverer(_Deliverer):
    """The webhook interval job: sends due webhook deliveries (scheduler.webhook_deliver)."""

    def __call__(self) -> None:
        try:
            while (
                not self.stopping.is_set()
                and deliver_webhooks(self.engine, self.worker, limit=WEBHOOK_BATCH) > 0
            ):
                pass
        except Exception:
            log.exception("delivering webhooks failed")


def _add_poll_job(scheduler: BaseScheduler, poller: _Poller, first_run: datetime) -> None:
    seconds = get_settings().scheduler.poll_seconds
    scheduler.add_job(
        poller,
        "interval",
        seconds=seconds,
        id=POLL_JOB_ID,
        max_instances=1,
        coalesce=True,
        next_run_time=first_run,
    )
    # A job of its own, so a slow queue item never holds up notices (and vice versa).
    scheduler.add_job(
        _Deliverer(poller.engine, poller.worker, poller.stopping),
        "interval",
        seconds=seconds,
        id=DELIVER_JOB_ID,
        max_instances=1,
        coalesce=True,
        next_run_time=first_run,
    )
    # And one for webhooks: a slow receiver never holds up notices to ASN.
    scheduler.add_job(
        _WebhookDeliverer(poller.engine, poller.worker, poller.stopping),
        "interval",
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
