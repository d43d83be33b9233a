"""The ``ownership_check`` job: look an enrolled account up and look for its code.

Queued by roster.ownership.request_check when an ASN presses "check"; the platform is only
called here, never in a web request. A rate limit re-queues the item at the reset time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from roster.ownership import JOB_KIND, run_check
from scheduler.jobs import job


@job(JOB_KIND)
def ownership_check(engine: Engine, payload: dict[str, Any]) -> None:
    with Session(engine, expire_on_commit=False) as session:
        run_check(session, int(payload["account_id"]))
