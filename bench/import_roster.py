"""Benchmark: import a roster CSV of 100,000 people, and how long other writers wait for it.

    .venv/bin/python bench/import_roster.py [--rows 100000] [--platforms 2] [--database-url URL]

Seeds a fresh migrated SQLite database in a temporary directory (``--database-url``: an
existing, migrated or empty database instead, e.g. a PostgreSQL one) with one agency and
its first unit, and writes a valid CSV of ``--rows`` people, each with ``--platforms``
accounts (x, instagram, facebook) and one of ten units (nine made by the import).

Before the import, a baseline: one driver-level ``executemany`` INSERT of the same ``asn``
rows and one of their accounts, in one transaction (explicit ids, no look-ups), timed from
the first INSERT to the end of the commit. On SQLite that is as short as holding the write
lock for these rows can be; it runs in a second fresh database seeded alike, so both start
from the same state (with ``--database-url``: in that database, its rows deleted after).

Then ``import_roster`` is timed end to end: validation (parsing, every check and every
read, before the first INSERT or UPDATE), the lock (from the first INSERT or UPDATE to the
end of the commit: on SQLite every other writer waits that long at most) and the total.
Meanwhile another connection writes (a one-row UPDATE, every 20 ms) and the longest it
waited is reported: it must stay well under SQLite's 15 s busy timeout. Last, the same
file is imported again with every name and follower count changed (the UPDATE path) and
its lock time reported.

The last line printed is one JSON object: {"database", "rows", "accounts", "total_s",
"validation_s", "lock_s", "baseline_lock_s", "ratio", "update_lock_s", "other_writer_max_s",
"other_writes", "other_writer_timeouts"}. ``ratio`` is baseline_lock_s / lock_s (1.0: the
import holds the lock no longer than a bare executemany of its rows). Targets: ratio >= 0.5
and no other writer timed out.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from gaung.db import make_engine, utcnow
from gaung.migrate import upgrade
from roster.importer import COLUMNS, ImportResult, import_roster
from roster.models import Agency, Unit
from wiring import wire

PLATFORMS = ("x", "instagram", "facebook")
HANDLE_SUFFIX = {"x": "_x", "instagram": "_ig", "facebook": ".fb"}  # each platform's rules
UNITS = [f"Biro {n}" for n in range(10)]
WRITE_EVERY = 0.02  # seconds between the other writer's writes
SLUG = "bench-import"


def _nip(n: int) -> str:
    """A distinct valid NIP per n: born 1970-1994, appointed 2015-03, sex and sequence."""
    born = date(1970, 1, 1) + timedelta(days=n % 9000)
    return f"{born:%Y%m%d}201503{1 + (n // 9000) % 2}{(n // 18000) % 999 + 1:03d}"


def _csv(rows: int, platforms: int, followers: int, title: str = "") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for n in range(rows):
        row = {
            "nip": _nip(n),
            "name": f"{title}ASN {n}",
            "unit": UNITS[n % len(UNITS)],
            "email": f"asn{n}@kominfo.go.id",
            "messenger": "email",
            "consent_at": "2026-01-15",
        }
        for platform in PLATFORMS[:platforms]:
            row |= {
                f"{platform}_handle": f"asn{n}{HANDLE_SUFFIX[platform]}",
                f"{platform}_user_id": f"{platform}-{n}",
                f"{platform}_followers": str(followers + n % 5000),
            }
        writer.writerow(row)
    return out.getvalue()


def _seed(engine: Engine) -> tuple[int, int]:
    """The agency and its first unit (ids)."""
    with Session(engine) as session:
        agency = Agency(slug=SLUG, name="Bench")
        session.add(agency)
        session.flush()
        assert agency.id is not None
        unit = Unit(agency_id=agency.id, name=UNITS[0])
        session.add(unit)
        session.commit()
        assert unit.id is not None
        return agency.id, unit.id


def _baseline(engine: Engine, agency_id: int, unit_id: int, rows: int, platforms: int) -> float:
    """Seconds from the first of two bare executemany INSERTs to the end of the commit.

    The rows are deleted again, so the import that follows in the same database finds its
    NIPs, e-mail addresses and accounts free.
    """
    now = str(utcnow().replace(tzinfo=None)) if engine.dialect.name == "sqlite" else utcnow()
    with engine.connect() as conn:
        start_id = conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM asn")).scalar_one()
        conn.rollback()
    fixed = (agency_id, unit_id, "email", "active", now, now, False, False, "id", 0, 0)
    people = [
        (start_id + n, _nip(n), f"ASN {n}", f"asn{n}@kominfo.go.id", *fixed) for n in range(rows)
    ]
    accounts = [
        (start_id + n, p, f"{p}-{n}", f"asn{n}{HANDLE_SUFFIX[p]}", 1000 + n % 5000, now, None, now)
        for n in range(rows)
        for p in PLATFORMS[:platforms]
    ]
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    insert_people = (
        "INSERT INTO asn (id, nip, name, email, agency_id, unit_id, messenger, status,"
        " consent_at, created_at, mute_reminders, digest, locale, login_epoch, session_epoch)"
        f" VALUES ({', '.join([mark] * 15)})"
    )
    insert_accounts = (
        "INSERT INTO social_account (asn_id, platform, platform_user_id, handle, followers,"
        f" followers_at, ownership_verified_at, created_at) VALUES ({', '.join([mark] * 8)})"
    )
    with engine.connect() as conn:
        start = time.perf_counter()
        conn.exec_driver_sql(insert_people, people)
        if accounts:
            conn.exec_driver_sql(insert_accounts, accounts)
        conn.commit()
        seconds = time.perf_counter() - start
        ids = {"first": start_id, "last": start_id + rows}
        conn.execute(
            text("DELETE FROM social_account WHERE asn_id >= :first AND asn_id < :last"), ids
        )
        conn.execute(text("DELETE FROM asn WHERE id >= :first AND id < :last"), ids)
        conn.commit()
    return seconds


class _Timeline:
    """When the import started, first wrote and finished committing."""

    def __init__(self, engine: Engine, session: Session) -> None:
        self.engine, self.session = engine, session
        self.start = time.perf_counter()
        self.first_write: float | None = None
        self.committed = 0.0

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if self.first_write is None and verb in ("INSERT", "UPDATE", "DELETE"):
            self.first_write = time.perf_counter()

    def _after_commit(self, _session: Session) -> None:
        self.committed = time.perf_counter()

    def __enter__(self) -> _Timeline:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.session, "after_commit", self._after_commit)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.session, "after_commit", self._after_commit)

    @property
    def lock(self) -> float:
        """From the first INSERT or UPDATE to the end of the commit."""
        assert self.first_write is not None, "the import wrote nothing"
        return self.committed - self.first_write


@dataclass
class _OtherWriter:
    """A second connection writing a row now and then, as the web app or scheduler would."""

    engine: Engine
    agency_id: int
    waits: list[tuple[float, float]] = field(default_factory=list)
    timeouts: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        statement = text("UPDATE agency SET name = :name WHERE id = :id")
        while not self.stop.wait(WRITE_EVERY):
            start = time.perf_counter()
            try:
                with self.engine.begin() as conn:
                    conn.execute(statement, {"name": f"Bench {start:.3f}", "id": self.agency_id})
            except OperationalError:  # "database is locked": the busy timeout ran out
                self.timeouts += 1
            self.waits.append((start, time.perf_counter() - start))


def _import(engine: Engine, agency_id: int, data: str) -> tuple[_Timeline, ImportResult]:
    with Session(engine, expire_on_commit=False) as session:
        agency = session.get(Agency, agency_id)
        assert agency is not None
        with _Timeline(engine, session) as timeline:
            result = import_roster(session, agency, data, create_units=True)
        return timeline, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="people in the CSV")
    parser.add_argument("--platforms", type=int, default=2, choices=range(4))
    parser.add_argument("--database-url", help="an existing database instead of a new SQLite one")
    args = parser.parse_args()
    wire()  # the messengers a roster row may name

    with tempfile.TemporaryDirectory(prefix="gaung-bench-") as tmp:
        engine = make_engine(args.database_url or f"sqlite:///{tmp}/import.db")
        upgrade(engine)
        agency_id, unit_id = _seed(engine)
        data = _csv(args.rows, args.platforms, followers=1000)
        accounts = args.rows * args.platforms
        print(f"{engine.dialect.name}: {args.rows:,} people, {accounts:,} accounts", flush=True)

        if args.database_url:
            baseline = _baseline(engine, agency_id, unit_id, args.rows, args.platforms)
        else:
            twin = make_engine(f"sqlite:///{tmp}/baseline.db")
            upgrade(twin)
            baseline = _baseline(twin, *_seed(twin), args.rows, args.platforms)
            twin.dispose()
        print(f"baseline, bare executemany of the same rows: lock {baseline:.2f} s", flush=True)

        other = _OtherWriter(
            make_engine(engine.url.render_as_string(hide_password=False)), agency_id
        )
        writer = threading.Thread(target=other.run, daemon=True)
        writer.start()
        try:
            timeline, result = _import(engine, agency_id, data)
        finally:
            other.stop.set()
            writer.join()
        lock = timeline.lock
        total = timeline.committed - timeline.start
        validation = total - lock
        locked_from = timeline.committed - lock
        during = [w for s, w in other.waits if s + w >= locked_from]
        print(
            f"import: {result.created:,} created, {result.units_created} units;"
            f" total {total:.2f} s, validation {validation:.2f} s, lock {lock:.2f} s"
        )
        longest = max((w for _, w in other.waits), default=0.0)
        print(
            f"other writer: {len(other.waits)} writes, longest {longest:.3f} s"
            f" ({len(during)} while or after the import held the lock, {other.timeouts} timed out)"
        )

        changed = _csv(args.rows, args.platforms, followers=2000, title="Drs. ")
        again, result = _import(engine, agency_id, changed)
        update_lock = again.lock
        print(
            f"re-import, every name and follower count changed: {result.updated:,} updated,"
            f" lock {update_lock:.2f} s"
        )
        engine.dispose()

    ratio = baseline / lock
    print(f"ratio (baseline lock / import lock): {ratio:.2f}  (target >= 0.5)")
    print(
        json.dumps(
            {
                "database": engine.dialect.name,
                "rows": args.rows,
                "accounts": accounts,
                "total_s": round(total, 3),
                "validation_s": round(validation, 3),
                "lock_s": round(lock, 3),
                "baseline_lock_s": round(baseline, 3),
                "ratio": round(ratio, 3),
                "update_lock_s": round(update_lock, 3),
                "other_writer_max_s": round(longest, 3),
                "other_writes": len(other.waits),
                "other_writer_timeouts": other.timeouts,
            }
        )
    )


if __name__ == "__main__":
    main()
