"""Personal tracking links (/r/{code}): find where to send the visitor, count the click.

No IP address or user agent is stored; only when, for which assignment, which
platform the visitor came from, and ``clicker``: 64 bits of an HMAC, keyed by the
app's secret key and salted per day (UTC), of the visitor's address and user agent.
It is the same for the same visitor on one day and unrelated across days, so unique
clickers per link and day are ``COUNT(DISTINCT clicker)`` per link, and the address
cannot be recovered from it without the key (nor across days, even with it, short of
hashing every address again).

Known bots and link-preview fetchers (facebookexternalhit, Twitterbot, WhatsApp,
Slackbot, TelegramBot…: the `crawlerdetect` list, :func:`is_bot`) get the redirect
but are no click: they are tallied per link and day in ``bot_fetch``
(:meth:`ClickBuffer.add_bot`), written with the clicks.

Clicks are the public's traffic, so the redirect must not hold the database: the
target of a code comes from a bounded in-process LRU cache (:class:`TargetCache`) or
one indexed read, and clicks are appended to an in-memory :class:`ClickBuffer` that a
background thread writes in one statement every ``tracking.flush_seconds`` or
``tracking.flush_clicks`` clicks, and once more on a clean shutdown. Click times are
kept to the second: nothing reads them finer, and clicks of one second then share
one conversion to the database's format.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import psycopg
from crawlerdetect import CrawlerDetect
from sqlalchemy import BindParameter, Date, bindparam, exists, func, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlmodel import Session
from sqlmodel import select as sqlmodel_select

from assignments.models import Assignment, BotFetch, Click
from content.models import Post
from gaung.db import get_engine
from gaung.settings import get_settings

log = logging.getLogger(__name__)

MAX_CODE_LENGTH = 32  # Assignment.code column size
# Clicks kept in memory while the database cannot take them; the oldest go beyond this.
MAX_PENDING = 200_000
# The buffer's thread runs at least this often (publishing tallies via on_tick).
TICK_SECONDS = 1.0

# Referer host suffixes per platform (t.co is X's link shortener; l./lm. are
# Facebook's and Instagram's outbound-link redirectors, covered by the suffix).
_REFERER_DOMAINS = (
    ("x", ("t.co", "x.com", "twitter.com")),
    ("facebook", ("facebook.com", "fb.com")),
    ("instagram", ("instagram.com",)),
)
_assignment = Assignment.__table__  # type: ignore[attr-defined]
_post = Post.__table__  # type: ignore[attr-defined]
_click = Click.__table__  # type: ignore[attr-defined]
_bot_fetch = BotFetch.__table__  # type: ignore[attr-defined]
# User agents are judged on at most this many characters (a longer one is not a browser's).
MAX_USER_AGENT = 512
DAY_SECONDS = 86_400
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a tracking code leads, and what a click on it is counted against."""

    url: str
    assignment_id: int
    campaign_id: int


def valid_code(code: str) -> bool:
    return bool(code) and len(code) <= MAX_CODE_LENGTH


def resolve(session: Session, code: str) -> tuple[Assignment, str] | None:
    """The assignment behind a code and the post link to redirect to, else None."""
    if not valid_code(code):
        return None
    query = (
        sqlmodel_select(Assignment, Post.link)
        .join(Post, Post.id == Assignment.post_id)  # type: ignore[arg-type]
        .where(Assignment.code == code)
    )
    row = session.exec(query).first()
    if row is None or not row[1]:
        return None
    return row[0], row[1]


def lookup(conn: Connection, code: str) -> Target | None:
    """The target of ``code`` with one read on the unique code index; None if unknown."""
    if not valid_code(code):
        return None
    row = conn.execute(
        select(_post.c.link, _assignment.c.id, _assignment.c.campaign_id)
        .join(_post, _post.c.id == _assignment.c.post_id)
        .where(_assignment.c.code == code)
    ).first()
    if row is None or not row.link:
        return None
    return Target(url=row.link, assignment_id=row.id, campaign_id=row.campaign_id)


class TargetCache:
    """A bounded, thread-safe LRU of code -> target, each entry trusted for ``ttl`` seconds.

    Unknown codes are never cached, so guessing codes cannot push real ones out. The
    time limit bounds how long a changed post link or a removed assignment is served.
    """

    def __init__(self, size: int, ttl: float, clock: Clock = time.monotonic) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Target]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0  # a plain tally: the metrics read it, no per-request counter call

    def get(self, code: str) -> Target | None:
        with self._lock:
            entry = self._entries.get(code)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[code]
                return None
            self._entries.move_to_end(code)
            self.hits += 1
            return entry[1]

    def put(self, code: str, target: Target) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[code] = (self._clock() + self.ttl, target)
            self._entries.move_to_end(code)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


@lru_cache(maxsize=4096)  # a platform's referer is mostly one origin ("https://t.co/")
def source_from_referer(referer: str | None) -> str:
    """ "x", "facebook", "instagram", or "" when the referer is absent or elsewhere."""
    if not referer:
        return ""
    try:
        host = (urlsplit(referer.strip()).hostname or "").lower()
    except ValueError:
        return ""
    for platform, domains in _REFERER_DOMAINS:
        if any(host == d or host.endswith("." + d) for d in domains):
            return platform
    return ""


_crawlers = CrawlerDetect()
_crawlers_lock = threading.Lock()  # the detector keeps its last matches on itself


@lru_cache(maxsize=8192)
def is_bot(user_agent: str) -> bool:
    """A known bot or link-preview fetcher, by the `crawlerdetect` list of user agents.

    Its regular expressions cost 20-600 µs a user agent, so verdicts are cached per
    distinct user agent (visitors of one campaign share a few thousand). No user agent
    at all is not a bot: the list is of known ones.
    """
    if not user_agent:
        return False
    with _crawlers_lock:
        return bool(_crawlers.isCrawler(user_agent[:MAX_USER_AGENT]))


@lru_cache(maxsize=4)
def _day_key(day: int) -> bytes:
    """The day's salt: an HMAC of the day number under the app's secret key."""
    secret = get_settings().resolved_secret_key().encode()
    return hmac.digest(secret, b"gaung.clicker:%d" % day, "sha256")


def clicker_hash(address: str, user_agent: str, at: float) -> int:
    """Who clicked, as a signed 64-bit number: the same for one address and user agent on
    one day (UTC), unrelated on another day; the address cannot be read back from it."""
    message = f"{address}\n{user_agent[:MAX_USER_AGENT]}".encode("utf-8", "replace")
    digest = hmac.digest(_day_key(int(at // DAY_SECONDS)), message, "sha256")
    return int.from_bytes(digest[:8], "big", signed=True)


def record_click(session: Session, assignment: Assignment, referer: str | None) -> Click:
    """Count one visit at once, in the caller's session (demo data, tests).

    The web redirect counts through :class:`ClickBuffer` instead, in batches.
    """
    assert assignment.id is not None
    click = Click(
        assignment_id=assignment.id,
        campaign_id=assignment.campaign_id,
        source=source_from_referer(referer),
    )
    session.add(click)
    session.commit()
    session.refresh(click)
    return click


class ClickBuffer:
    """Clicks collected in memory and written in batches by a background thread.

    ``add()`` only appends to a list (``add_bot()`` adds to a counter per link and
    day); the thread flushes every ``flush_seconds``, or at
    once when ``flush_clicks`` are waiting, with one executemany INSERT. ``stop()``
    flushes what is left (the app's shutdown and ``atexit`` call it), so a clean
    shutdown (SIGTERM) loses no click. If the database cannot take a batch, the clicks
    stay pending and the next flush tries again.
    """

    def __init__(
        self,
        *,
        flush_seconds: float = 0.5,
        flush_clicks: int = 1000,
        engine: Callable[[], Engine] = get_engine,
        on_flush: Callable[[int], None] | None = None,
        on_drop: Callable[[int], None] | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.flush_seconds = flush_seconds
        self.flush_clicks = flush_clicks
        self._engine = engine
        self._on_flush = on_flush
        self._on_drop = on_drop
        self._on_tick = on_tick  # after every round of the thread (publishing tallies)
        self.added = 0  # clicks taken in since start: a plain tally, read by the metrics
        self._pending: list[ClickRow] = []
        self._bots: dict[BotKey, int] = {}  # bot fetches per (target, day) since last flush
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one writer at a time keeps the order
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = False  # checked on every click: cheaper than Thread.is_alive()

    def add(
        self,
        target: Target,
        referer: str | None,
        at: float | None = None,
        clicker: int | None = None,
    ) -> None:
        """Take one click (``at``: seconds since the epoch, now if not given; ``clicker``:
        :func:`clicker_hash` of the visitor)."""
        when = time.time() if at is None else at
        click = (target, when, source_from_referer(referer), clicker)
        with self._lock:
            self._pending.append(click)
            self.added += 1
            full = len(self._pending) >= self.flush_clicks
        if full:
            self._wake.set()
        if not self._running:
            self.start()

    def add_bot(self, target: Target, at: float | None = None) -> None:
        """Count one fetch of ``target`` by a bot: no click, a tally of its day."""
        key = (target, int((time.time() if at is None else at) // DAY_SECONDS))
        with self._lock:
            self._bots[key] = self._bots.get(key, 0) + 1
        if not self._running:
            self.start()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        """Run the flushing thread (idempotent; ``add()`` starts it when needed)."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="gaung-clicks", daemon=True)
            self._thread.start()
            self._running = True

    def stop(self) -> int:
        """Stop the thread and write every pending click; returns how many were written."""
        self._running = False
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        written = self.flush()
        self._tick()
        return written

    def _run(self) -> None:
        flushed = time.monotonic()
        while True:
            self._wake.wait(min(self.flush_seconds, TICK_SECONDS))
            self._wake.clear()
            if self._stopping.is_set():
                return  # stop() writes what is left
            now = time.monotonic()
            if len(self._pending) >= self.flush_clicks or now - flushed >= self.flush_seconds:
                flushed = now
                try:
                    self.flush()
                except Exception:  # never let the thread die: the next round tries again
                    log.exception("writing buffered clicks failed")
            self._tick()

    def _tick(self) -> None:
        if self._on_tick is not None:
            try:
                self._on_tick()
            except Exception:
                log.exception("publishing click tallies failed")

    def flush(self) -> int:
        """Write every pending click now; returns how many were written (0 on failure)."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                bots, self._bots = self._bots, {}
            if not batch and not bots:
                return 0
            try:
                _insert_clicks(self._engine(), batch, bots)
            except SQLAlchemyError:
                log.exception(
                    "could not write %s clicks; keeping them for the next try", len(batch)
                )
                self._requeue(batch, bots)
                return 0
        if self._on_flush is not None:
            self._on_flush(len(batch))
        return len(batch)

    def _requeue(self, batch: list[ClickRow], bots: dict[BotKey, int]) -> None:
        with self._lock:
            self._pending = batch + self._pending
            for key, count in bots.items():
                self._bots[key] = self._bots.get(key, 0) + count
            dropped = len(self._pending) - MAX_PENDING
            if dropped > 0:
                del self._pending[:dropped]
        if dropped > 0:
            log.error("click buffer full: %s oldest clicks dropped", dropped)
            if self._on_drop is not None:
                self._on_drop(dropped)


def _insert_clicks(engine: Engine, batch: list[ClickRow], bots: dict[BotKey, int]) -> None:
    """Write a batch in one statement, and the bot tallies in another (one transaction);
    clicks and tallies of assignments erased meanwhile are left out."""
    try:
        with engine.begin() as conn:
            if batch:
                _bulk_insert(conn, batch)
            _add_bot_fetches(conn, bots)
    except IntegrityError:
        # An assignment was erased (an ASN deleting their data) after its code was cached:
        # write the batch again, each row only if its assignment still exists.
        times = _PerSecond(_utc)
        params = [
            dict(
                zip(
                    _GUARDED_KEYS,
                    (t.assignment_id, t.campaign_id, times[int(at)], s, c),
                    strict=True,
                )
            )
            for t, at, s, c in batch
        ]
        with engine.begin() as conn:
            if params:
                conn.execute(_GUARDED_INSERT, params)
            _add_bot_fetches(conn, bots)


def _add_bot_fetches(conn: Connection, bots: dict[BotKey, int]) -> None:
    """Add each (link, day)'s bot fetches to its counter row, if the assignment still exists."""
    if bots:
        params = [
            {"a": t.assignment_id, "c": t.campaign_id, "d": _utc(day * DAY_SECONDS).date(), "n": n}
            for (t, day), n in bots.items()
        ]
        conn.execute(_BOT_UPSERT, params)


def _bulk_insert(conn: Connection, batch: list[ClickRow]) -> None:
    """PostgreSQL: COPY (a few microseconds a row, against ~15 for an executemany INSERT,
    which is CPU the web process needs for redirects); SQLite: the driver's executemany."""
    if conn.dialect.name != "postgresql":
        bind = _click.c.at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        stamps = _PerSecond(lambda second: bind(_utc(second)) if bind else _utc(second))
        rows = [(t.assignment_id, t.campaign_id, stamps[int(at)], s, c) for t, at, s, c in batch]
        conn.exec_driver_sql(_SQLITE_INSERT, rows)
        return
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    iso = _PerSecond(lambda second: _utc(second).isoformat())
    try:
        with dbapi.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
            # COPY's text format built at once: integers, an ISO time and a source from
            # a fixed set (source_from_referer) need no escaping (NULL is \N). About a
            # third of the CPU of write_row() per click, in the process that serves the
            # redirects.
            copy.write(
                "".join(
                    f"{t.assignment_id}\t{t.campaign_id}\t{iso[int(at)]}\t{s}\t"
                    f"{_NULL if c is None else c}\n"
                    for t, at, s, c in batch
                )
            )
    except psycopg.Error as exc:
        # The same exception classes as every other statement, for the caller to handle.
        raise DBAPIError.instance(_PG_COPY, None, exc, psycopg.Error) from exc


def _utc(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


class _PerSecond(dict[int, Any]):
    """Epoch second -> its value for the database, converted once per second in a batch."""

    def __init__(self, convert: Callable[[int], Any]) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, second: int) -> Any:
        value = self[second] = self._convert(second)
        return value


# A buffered click: its target, when (seconds since the epoch), where from, who.
ClickRow = tuple[Target, float, str, int | None]
# A bot tally's key: the target and the day (days since the epoch, UTC).
BotKey = tuple[Target, int]
_CLICK_COLUMNS = ["assignment_id", "campaign_id", "at", "source", "clicker"]
_GUARDED_KEYS = [f"b_{column}" for column in _CLICK_COLUMNS]
_SQLITE_INSERT = (
    "INSERT INTO click (assignment_id, campaign_id, at, source, clicker) VALUES (?, ?, ?, ?, ?)"
)
_NULL = "\\N"  # NULL in COPY's text format
_PG_COPY = "COPY click (assignment_id, campaign_id, at, source, clicker) FROM STDIN"
# Both dialects: SQLite needs the WHERE for its parser to see the upsert after a SELECT.
_BOT_UPSERT = text(
    "INSERT INTO bot_fetch (assignment_id, day, campaign_id, fetches) "
    "SELECT :a, :d, :c, :n WHERE EXISTS (SELECT 1 FROM assignment WHERE id = :a) "
    "ON CONFLICT (assignment_id, day) DO UPDATE SET fetches = bot_fetch.fetches + excluded.fetches"
).bindparams(bindparam("d", type_=Date))


def _param(column: str) -> BindParameter[Any]:
    return bindparam(f"b_{column}", type_=_click.c[column].type)


_GUARDED_INSERT = insert(_click).from_select(
    _CLICK_COLUMNS,
    select(*(_param(c) for c in _CLICK_COLUMNS)).where(
        exists().where(_assignment.c.id == _param("assignment_id"))
    ),
)


def visitor_counts(conn: Connection, campaign_id: int) -> tuple[int, int]:
    """(unique clickers, bot fetches) of a campaign: clickers counted once per link and
    day (a ``clicker`` is salted per day), summed over links and days."""
    per_link = (
        select(_click.c.assignment_id, _click.c.clicker)
        .where(_click.c.campaign_id == campaign_id, _click.c.clicker.is_not(None))
        .distinct()
        .subquery()
    )
    unique = conn.execute(select(func.count()).select_from(per_link)).scalar_one()
    bots = conn.execute(
        select(func.coalesce(func.sum(_bot_fetch.c.fetches), 0)).where(
            _bot_fetch.c.campaign_id == campaign_id
        )
    ).scalar_one()
    return int(unique), int(bots)
