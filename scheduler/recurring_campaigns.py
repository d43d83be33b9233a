"""The ``recurring_campaigns`` job: hourly, the drafts of repeating campaigns' coming week.

content.recurrence holds the rules and makes each occurrence once; this only runs it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from content import recurrence

log = logging.getLogger(__name__)

JOB_KIND = "recurring_campaigns"
EVERY = timedelta(hours=1)


def recurring_campaigns_job(engine: Engine, payload: dict[str, Any]) -> None:
    """Make every occurrence due within content.recurrence.LOOKAHEAD as drafts (once)."""
    made = recurrence.make_due(engine)
    if made:
        log.info("made %s recurring campaign occurrence(s)", made)
