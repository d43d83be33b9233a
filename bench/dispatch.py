"""Benchmark: dispatch one post to 100,000 ASN x 3 platforms on SQLite.

    .venv/bin/python bench/dispatch.py [--asn 100000]

Seeds a fresh migrated SQLite database (not timed), times ``dispatch_post`` end to
end (eligibility query, rendering, codes, bulk insert, commit), then times a plain
``sqlite3`` ``executemany`` of the very same rows into a copy of the database taken
before dispatch. The last line printed is one JSON object with the figures.
Targets: ratio >= 0.5 and the whole dispatch under 10 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from assignments.models import Assignment
from bench.seed import approved_post
from gaung.db import make_engine, utcnow
from gaung.migrate import upgrade
from roster.models import AsnStatus
from scheduler.dispatch import ASSIGNMENT_COLUMNS, dispatch_post

PLATFORMS = ("x", "facebook", "instagram")
UNITS = 10


def _seed(engine: Engine, asn_count: int) -> int:
    """One agency, ten units, ``asn_count`` consenting ASN with 3 accounts; returns the post id."""
    now = utcnow()
    seeded = approved_post(
        engine,
        unit_names=[f"Biro {n}" for n in range(UNITS)],
        master_text="Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha di 34 provinsi.",
        link="https://www.kominfo.go.id/berita/umkm-digital",
    )
    unit_ids, agency_id, post_id = seeded.unit_ids, seeded.agency_id, seeded.post_id
    assert post_id is not None
    stamp = str(now.replace(tzinfo=None))
    asn_rows = [
        (
            n,
            agency_id,
            unit_ids[n % UNITS],
            f"{198001012006040000 + n}",
            f"ASN {n}",
            f"asn{n}@kominfo.go.id",
            "email",
            AsnStatus.ACTIVE.value,
            stamp,
            "v1",
            "id",
            0,
            stamp,
        )
        for n in range(1, asn_count + 1)
    ]
    account_rows = [
        (asn, p, f"{p}-{asn}", f"asn{asn}_{p}", 1000 + asn % 5000, stamp, stamp, stamp)
        for asn in range(1, asn_count + 1)
        for p in PLATFORMS
    ]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO asn (id, agency_id, unit_id, nip, name, email, messenger, status,"
            " consent_at, consent_version, locale, login_epoch, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            asn_rows,
        )
        conn.exec_driver_sql(
            "INSERT INTO social_account (asn_id, platform, platform_user_id, handle, followers,"
            " followers_at, ownership_verified_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            account_rows,
        )
    return post_id


def _raw_insert(path: Path, rows: list[tuple[Any, ...]]) -> float:
    """Seconds for a plain sqlite3 executemany of ``rows``, same pragmas as the app."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    marks = ", ".join("?" * len(ASSIGNMENT_COLUMNS))
    sql = f"INSERT INTO assignment ({', '.join(ASSIGNMENT_COLUMNS)}) VALUES ({marks})"
    start = time.perf_counter()
    conn.executemany(sql, rows)
    conn.commit()
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asn", type=int, default=100_000, help="number of ASN (3 accounts each)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gaung-bench-") as tmp:
        db_path, copy_path = Path(tmp) / "dispatch.db", Path(tmp) / "raw.db"
        engine = make_engine(f"sqlite:///{db_path}")
        upgrade(engine)
        print(f"seeding {args.asn:,} ASN x {len(PLATFORMS)} accounts ...", flush=True)
        post_id = _seed(engine, args.asn)
        engine.dispose()  # checkpoints the WAL so the copy is the whole database
        shutil.copyfile(db_path, copy_path)

        start = time.perf_counter()
        created = dispatch_post(engine, post_id)
        seconds = time.perf_counter() - start

        columns = [getattr(Assignment, name) for name in ASSIGNMENT_COLUMNS]
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(select(*columns).order_by(col(Assignment.id)))]
        engine.dispose()
        raw_seconds = _raw_insert(copy_path, rows)

    rate = created / seconds
    raw_rate = len(rows) / raw_seconds
    print(f"dispatch_post: {created:,} assignments in {seconds:.2f} s ({rate:,.0f}/s)")
    print(f"raw sqlite3 executemany: {len(rows):,} rows in {raw_seconds:.2f} s ({raw_rate:,.0f}/s)")
    print(f"ratio (dispatch / raw insert rate): {rate / raw_rate:.2f}  (target >= 0.5)")
    print(
        json.dumps(
            {
                "assignments": created,
                "seconds": round(seconds, 3),
                "assignments_per_s": round(rate),
                "raw_rows_per_s": round(raw_rate),
                "ratio": round(rate / raw_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
