"""Cluster-wide send rates per messenger, shared through the database.

Telegram allows about 30 messages per second per bot, whichever worker sends them, so
the limit lives in one ``rate_window`` row per messenger: ``next_free`` is the moment
(on the database's clock) from which the next send slot is free. A worker that claimed
``n`` messages reserves ``n`` consecutive slots with one upsert ... RETURNING, then
paces its sends locally within them (:class:`Slots`). Slots never overlap between
workers, so N workers together send at most the configured rate (the "virtual
scheduling" form of GCRA, with no burst).

Times are seconds on the database's clock (``clock_timestamp()`` on PostgreSQL) and
each worker converts them to waits at once, so machines with skewed clocks still
share one schedule.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import ColumnElement, Float, cast, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from gaung.db import is_postgres
from gaung.settings import get_settings

Clock = Callable[[], float]
# Without a configured limit a messenger still gets a conservative one.
DEFAULT_RATE = 1.0


class RateWindow(SQLModel, table=True):
    __tablename__ = "rate_window"
    name: str = Field(primary_key=True, max_length=40)  # the messenger's slug
    # Database-clock epoch seconds from which the next send slot is free.
    next_free: float = 0.0


_table = RateWindow.__table__  # type: ignore[attr-defined]


def rate_for(messenger: str) -> float:
    """Messages per second for ``messenger`` across the cluster (settings.rate_limits)."""
    rate = get_settings().rate_limits.get(messenger, DEFAULT_RATE)
    if rate <= 0:
        raise ValueError(f"rate_limits.{messenger} must be positive")
    return rate


class Slots:
    """``count`` send slots ``interval`` apart, the first ``first_wait`` seconds from now.

    ``acquire()`` hands them out in order to any number of sending threads and sleeps
    until the slot taken is due (taking more than ``count`` goes on at the same spacing).
    The clock is injectable so tests need no sleeps.
    """

    def __init__(
        self,
        first_wait: float,
        interval: float,
        count: int,
        clock: Clock = time.monotonic,
        start: float = 0.0,
    ) -> None:
        self.interval = interval
        self.count = count
        # Where the slots sit in the shared window (database-clock epoch seconds).
        self.start = start
        self.end = start + count * interval
        self._clock = clock
        self._next = clock() + max(first_wait, 0.0)
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next slot; seconds to wait before using it (0 when it is due)."""
        with self._lock:
            now = self._clock()
            # A late sender does not catch up in a burst: the spacing is what providers count.
            at = max(self._next, now)
            self._next = at + self.interval
            return at - now

    def hold(self, seconds: float) -> None:
        """Give no slot for ``seconds`` (the provider told us to slow down)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        wait = self.reserve()
        if wait > 0:
            sleep(wait)


def _db_now(engine: Engine) -> ColumnElement[float]:
    if is_postgres(engine):
        return cast(func.extract("epoch", func.clock_timestamp()), Float)
    return literal(time.time(), Float)  # SQLite: one machine, one clock


def reserve(engine: Engine, messenger: str, count: int, clock: Clock = time.monotonic) -> Slots:
    """Reserve ``count`` consecutive slots of ``messenger``'s shared window (one statement)."""
    interval = 1.0 / rate_for(messenger)
    span = count * interval
    now = _db_now(engine)
    postgres = is_postgres(engine)
    later = func.greatest if postgres else func.max
    insert = pg_insert if postgres else sqlite_insert
    statement = (
        insert(_table)
        .values(name=messenger, next_free=now + span)
        .on_conflict_do_update(
            index_elements=["name"], set_={"next_free": later(_table.c.next_free, now) + span}
        )
        .returning(_table.c.next_free, now)
    )
    with engine.begin() as conn:
        next_free, at = conn.execute(statement).one()
    start = next_free - span
    return Slots(start - at, interval, count, clock, start=start)


def hold(engine: Engine, messenger: str, seconds: float) -> None:
    """Nobody sends through ``messenger`` for ``seconds`` (a 429's retry-after)."""
    now = _db_now(engine)
    later = func.greatest if is_postgres(engine) else func.max
    with engine.begin() as conn:
        conn.execute(
            update(_table)
            .where(_table.c.name == messenger)
            .values(next_free=later(_table.c.next_free, now + seconds))
        )


def backlog(engine: Engine, messenger: str) -> float:
    """Seconds until ``messenger``'s window is free again (slots other workers hold)."""
    now = _db_now(engine)
    with engine.connect() as conn:
        ahead = conn.scalar(select(_table.c.next_free - now).where(_table.c.name == messenger))
    return max(ahead or 0.0, 0.0)


def reset() -> None:
    """Nothing to forget: the window lives in the database (kept for older callers)."""
