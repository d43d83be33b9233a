"""Logging for ``gaung serve`` and ``gaung worker``, configured in this one place.

``log_format`` (settings or ``GAUNG_LOG_FORMAT``) is ``text`` (one readable line per
record), ``json`` (one JSON object per line, for journald, containers and log
shippers) or ``auto``: text on a terminal, JSON otherwise.

JSON comes from python-json-logger rather than structlog: it is a plain
``logging.Formatter``, so every existing ``logging.getLogger(__name__)`` call and the
libraries' own loggers (uvicorn, APScheduler, SQLAlchemy, httpx) come out as JSON
through one handler, with no second logging API to adopt across the code base.

The configuration is a ``dictConfig`` dictionary, because uvicorn applies such a
dictionary itself in each of its worker processes (``gaung serve --workers N``).
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any, Literal

from gaung.settings import get_settings

Format = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
JSON_FIELDS = ["levelname", "name", "process", "message"]
# Loggers that say too much at INFO for a production log: httpx a line per request,
# APScheduler two per poll of every process.
QUIET = {"httpx": "WARNING", "httpcore": "WARNING", "apscheduler.executors": "WARNING"}


class DropSkippedRuns(logging.Filter):
    """APScheduler warns whenever an interval job is still busy at its next tick.

    The queue and outbox pollers drain until nothing is due, so a busy tick is the
    normal case under load, not a problem worth a warning line every poll.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def resolve_format(value: str | None = None) -> Format:
    """``text`` or ``json``; ``auto`` (the default) picks by whether stderr is a terminal."""
    chosen = value or get_settings().log_format
    if chosen == "auto":
        return "text" if sys.stderr.isatty() else "json"
    if chosen not in ("text", "json"):
        raise ValueError(f"log_format must be auto, text or json, not {chosen!r}")
    return "json" if chosen == "json" else "text"


def dict_config(fmt: str | None = None, level: str | None = None) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` dictionary for ``fmt`` and ``level``."""
    level = (level or get_settings().log_level).upper()
    formatters: dict[str, Any] = {
        "text": {"format": TEXT_FORMAT},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
        },
    }
    own = {"level": level, "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"skipped_runs": {"()": DropSkippedRuns}},
        "formatters": formatters,
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": resolve_format(fmt),
                "filters": ["skipped_runs"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own loggers go through the root handler like everything else.
            **{name: dict(own) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
            **{name: {"level": quiet} for name, quiet in QUIET.items()},
        },
    }


def configure(fmt: str | None = None, level: str | None = None) -> None:
    logging.config.dictConfig(dict_config(fmt, level))
