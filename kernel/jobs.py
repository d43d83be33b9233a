"""Job registry and the loop body that runs due work items."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from kernel import queue
from kernel.models import WorkItem

log = logging.getLogger(__name__)

JobHandler = Callable[[Engine, dict[str, Any]], None]
# Filled by the composition root (wiring.wire); nothing registers itself on import.
JOBS: dict[str, JobHandler] = {}


def register(kind: str, handler: JobHandler) -> None:
    """Make ``handler`` run work items of ``kind``; a second, different handler is an error."""
    if JOBS.get(kind, handler) is not handler:
        raise ValueError(f"job kind {kind!r} is already registered")
    JOBS[kind] = handler


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
        queue.fail(engine, item.id, worker, f"{type(exc).__name__}: {exc}")
    else:
        queue.complete(engine, item.id, worker)
