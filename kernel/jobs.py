"""Job registry and the loop body that runs due work items."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from gaung.settings import get_settings
from kernel import queue
from kernel.models import WorkItem

log = logging.getLogger(__name__)

JobHandler = Callable[[Engine, dict[str, Any]], None]
# Filled by the composition root (wiring.wire); nothing registers itself on import.
JOBS: dict[str, JobHandler] = {}
# What to do when a kind's item has used its last attempt (payload, last error, attempts).
GiveUpHandler = Callable[[Engine, dict[str, Any], str, int], None]
GAVE_UP: dict[str, GiveUpHandler] = {}


def register(kind: str, handler: JobHandler) -> None:
    """Make ``handler`` run work items of ``kind``; a second, different handler is an error."""
    if JOBS.get(kind, handler) is not handler:
        raise ValueError(f"job kind {kind!r} is already registered")
    JOBS[kind] = handler


def on_give_up(kind: str, handler: GiveUpHandler) -> None:
    """Call ``handler`` once an item of ``kind`` failed for the last time."""
    if GAVE_UP.get(kind, handler) is not handler:
        raise ValueError(f"give-up handler of {kind!r} is already registered")
    GAVE_UP[kind] = handler


def run_due(engine: Engine, worker: str, *, limit: int = 10) -> int:
    """Claim and run up to ``limit`` due items one at a time; returns how many ran.

    Items are claimed one by one so a slow item does not hold leases on others that
    another worker could run meanwhile. Errors are logged per item, never raised.
    """
    ran = 0
    while ran < limit:
        claimed = queue.claim(engine, worker=worker, kinds=sorted(JOBS), limit=1)
        if not claimed:
            break
        _run_one(engine, worker, claimed[0])
        ran += 1
    return ran


def _run_one(engine: Engine, worker: str, item: WorkItem) -> None:
    assert item.id is not None
    handler = JOBS[item.kind]
    try:
        handler(engine, queue.payload_of(item))
    except queue.RetryLater as later:
        log.info("work item %s (%s) deferred to %s: %s", item.id, item.kind, later.at, later)
        queue.release(engine, item.id, worker, run_at=later.at)
    except Exception as exc:
        log.exception("work item %s (%s) failed on attempt %s", item.id, item.kind, item.attempts)
        error = f"{type(exc).__name__}: {exc}"
        queue.fail(engine, item.id, worker, error)
        if item.attempts >= get_settings().scheduler.max_attempts and item.kind in GAVE_UP:
            _give_up(engine, item, error)
    else:
        queue.complete(engine, item.id, worker)


def _give_up(engine: Engine, item: WorkItem, error: str) -> None:
    try:
        GAVE_UP[item.kind](engine, queue.payload_of(item), error, item.attempts)
    except Exception:
        log.exception("give-up handler of work item %s (%s) failed", item.id, item.kind)
