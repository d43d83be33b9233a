"""Benchmark: stream one post's dispatch to N ASN x 3 platforms across K agencies.

    .venv/bin/python bench/dispatch.py [--asn 100000] [--agencies 1] [--workers 1]
        [--database-url postgresql://user:pass@127.0.0.1:5432/postgres]

Seeds a fresh migrated database (SQLite in a temporary directory by default; with a
PostgreSQL URL a new database ``gaung_bench_<pid>`` on that server, dropped at the end):
K agencies of ten units each, N consenting ASN spread over them with three eligible
accounts each, and one cross-agency campaign made the way people make it: the first agency
coordinates a network of the others (roster.networks), offers the campaign, every member's
approver accepts it (content.offers) and the coordinator's approver approves its post, which
copies it into every member's campaign: K approved posts, one per agency.

The dispatch (start, every part, finish, for each of the K posts) runs in a child process,
timed there and measured
apart from the seeding: ``peak_rss_mb`` is that process's peak resident memory (the
largest of the worker processes with ``--workers`` > 1). Then the very same rows go into
an empty copy of the table (same indexes, constraints and foreign keys) the fastest plain
way: a binary ``COPY`` on PostgreSQL, a
``sqlite3`` ``executemany`` into a copy of the database taken before dispatch on SQLite
(``raw_seconds``). The post-level hooks (outbox, reminders, ...) are not wired: this
measures creating assignments. The last line printed is one JSON object.

Targets: PostgreSQL, --asn 1000000 --agencies 34: ratio >= 0.5, peak_rss_mb <= 300;
SQLite, the default 100,000 ASN: ratio >= 0.5 and the dispatch under 10 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col

from assignments.models import Assignment
from content import offers, workflow
from content.models import Campaign, CampaignKind, Post, PostStatus
from gaung.db import make_engine, normalise_url, utcnow
from gaung.migrate import upgrade
from roster import networks
from roster.models import Agency, AsnStatus, Role, Unit, User
from scheduler import dispatch

PLATFORMS = ("x", "facebook", "instagram")
UNITS = 10
BATCH = 50_000  # seeding rows per statement / COPY


def _seed(engine: Engine, asn_count: int) -> int:
    """One agency (bench/deliver.py and others): returns the post id."""
    return _seed_agencies(engine, asn_count, 1)[0]


def _approver(session: Session, agency_id: int) -> User:
    user = User(
        email=f"approver@{agency_id}.go.id",
        name="Approver",
        password_hash="-",  # noqa: S106 - cannot sign in
        role=Role.APPROVER,
        agency_id=agency_id,
    )
    session.add(user)
    session.flush()
    return user


def _cross_agency(session: Session, agency_ids: list[int], campaign: Campaign, post: Post) -> None:
    """The first agency offers the campaign to the others, they accept, its post is approved
    (and copied to every member): through the services the console calls."""
    coordinator = session.get_one(Agency, agency_ids[0])
    approver = _approver(session, agency_ids[0])
    if len(agency_ids) > 1:
        network = networks.create(session, None, "Bakohumas", coordinator)
        members = [session.get_one(Agency, a) for a in agency_ids[1:]]
        networks.add_members(session, None, network, members)
        session.commit()
        for item in offers.offer(session, approver, campaign):
            offers.accept(session, _approver(session, item.agency_id), item.id or 0)
    workflow.approve(session, approver, post)


def _seed_agencies(engine: Engine, asn_count: int, agencies: int) -> tuple[int, list[int]]:
    """K agencies, ten units each, N ASN with 3 accounts, one cross-agency campaign;
    returns (the coordinator's post id, the ids of its K approved posts)."""
    now = utcnow()
    with Session(engine) as session:
        agency_rows = [
            Agency(slug=f"instansi-{k}", name=f"Instansi {k}") for k in range(1, agencies + 1)
        ]
        session.add_all(agency_rows)
        session.flush()
        agency_ids = [a.id for a in agency_rows if a.id is not None]
        units = {a: [Unit(agency_id=a, name=f"Biro {n}") for n in range(UNITS)] for a in agency_ids}
        editor = User(
            email="humas@instansi-1.go.id",
            name="Humas",
            password_hash="-",  # noqa: S106 - cannot sign in
            role=Role.EDITOR,
            agency_id=agency_ids[0],
        )
        session.add_all([editor, *(u for us in units.values() for u in us)])
        session.flush()
        unit_ids = {a: [u.id or 0 for u in us] for a, us in units.items()}
        campaign = Campaign(
            agency_id=agency_ids[0],
            title="Digitalisasi UMKM",
            kind=CampaignKind.PROGRAM,
            starts_at=now,
            deadline=now + timedelta(days=2),
        )
        session.add(campaign)
        session.flush()
        post = Post(
            campaign_id=campaign.id or 0,
            author_id=editor.id or 0,
            hashtags="UMKMGoDigital",
            image_path="umkm.jpg",  # Instagram's renditions need one; never read here
            status=PostStatus.SUBMITTED,
            master_text="Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha di 34 provinsi.",
            link="https://www.kominfo.go.id/berita/umkm-digital",
            platforms=",".join(PLATFORMS),
        )
        session.add(post)
        session.commit()
        _cross_agency(session, agency_ids, campaign, post)
        post_id = post.id or 0
        post_ids = [post_id, *[p.id or 0 for p in offers.copies_of(session, post_id)]]

    stamp: Any = now if engine.dialect.name == "postgresql" else str(now.replace(tzinfo=None))

    def asn_rows(first: int, last: int) -> Iterator[tuple[Any, ...]]:
        for n in range(first, last):
            agency = agency_ids[n % agencies]
            yield (
                n,
                agency,
                unit_ids[agency][n % UNITS],
                f"{198001012006040000 + n}",
                f"ASN {n}",
                f"asn{n}@instansi.go.id",
                "email",
                AsnStatus.ACTIVE.value,
                stamp,
                "v1",
                "id",
                0,
                stamp,
            )

    def account_rows(first: int, last: int) -> Iterator[tuple[Any, ...]]:
        for asn in range(first, last):
            for p in PLATFORMS:
                yield (
                    asn,
                    p,
                    f"{p}-{asn}",
                    f"asn{asn}_{p}",
                    1000 + asn % 5000,
                    stamp,
                    stamp,
                    stamp,
                )

    asn_sql = (
        "asn (id, agency_id, unit_id, nip, name, email, messenger, status,"
        " consent_at, consent_version, locale, login_epoch, created_at)"
    )
    account_sql = (
        "social_account (asn_id, platform, platform_user_id, handle, followers,"
        " followers_at, ownership_verified_at, created_at)"
    )
    for first in range(1, asn_count + 1, BATCH):
        last = min(first + BATCH, asn_count + 1)
        with engine.begin() as conn:
            _bulk(conn, asn_sql, 13, asn_rows(first, last))
            _bulk(conn, account_sql, 8, account_rows(first, last))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT setval('asn_id_seq', (SELECT max(id) FROM asn))")
            conn.exec_driver_sql("ANALYZE")
    return post_id, post_ids


def _bulk(conn: Any, target: str, width: int, rows: Iterator[tuple[Any, ...]]) -> None:
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * width)
    conn.exec_driver_sql(f"INSERT INTO {target} VALUES ({marks})", list(rows))


def _run_parts(url: str, part_ids: list[int]) -> None:
    engine = make_engine(url)
    for part_id in part_ids:
        dispatch.run_part(engine, part_id)
    engine.dispose()


def _dispatch_child(url: str, post_ids: list[int], workers: int) -> None:
    """The measured process: start each post, the parts (in ``workers`` processes), finish."""
    engine = make_engine(url)
    begin = time.perf_counter()
    part_ids = [part for post_id in post_ids for part in dispatch.start(engine, post_id)]
    if workers <= 1:
        for part_id in part_ids:
            dispatch.run_part(engine, part_id)
    else:
        engine.dispose()
        shares = [part_ids[n::workers] for n in range(workers)]
        context = multiprocessing.get_context("spawn")
        processes = [context.Process(target=_run_parts, args=(url, s)) for s in shares if s]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
            if process.exitcode:
                raise SystemExit(f"a worker failed: {process.exitcode}")
    created = sum(dispatch.finish(engine, post_id) for post_id in post_ids)
    seconds = time.perf_counter() - begin
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"created": created, "seconds": seconds, "rss_kb": max(own, kids)}))


@contextmanager
def _database(url: str | None) -> Iterator[tuple[str, Path]]:
    """A fresh database URL (and a scratch directory), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="gaung-bench-") as tmp:
        if url is None:
            yield f"sqlite:///{Path(tmp) / 'dispatch.db'}", Path(tmp)
            return
        server = make_url(normalise_url(url))
        name = f"gaung_bench_{os.getpid()}"
        admin = make_engine(server.render_as_string(hide_password=False))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False), Path(tmp)
        finally:
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _raw_postgres(engine: Engine, scratch: Path) -> tuple[int, float]:
    """Seconds for a binary COPY of the dispatched rows into an empty copy of the table."""
    names = ", ".join(dispatch.ASSIGNMENT_COLUMNS)
    dump = scratch / "assignments.bin"
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE assignment_raw (LIKE assignment INCLUDING ALL)")
        # LIKE copies columns, defaults, constraints and indexes but not foreign keys: add
        # them, so the raw COPY does the same per-row work in the database as the dispatch.
        keys = conn.exec_driver_sql(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'assignment'::regclass AND contype = 'f'"
        ).scalars()
        for n, definition in enumerate(list(keys)):
            conn.exec_driver_sql(
                f"ALTER TABLE assignment_raw ADD CONSTRAINT raw_fk_{n} {definition}"
            )
        rows = int(conn.exec_driver_sql("SELECT count(*) FROM assignment").scalar_one())
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, dump.open("wb") as out:
            query = f"COPY (SELECT {names} FROM assignment ORDER BY id) TO STDOUT (FORMAT BINARY)"
            with cursor.copy(query) as copy:
                for block in copy:
                    out.write(block)
    with engine.begin() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        begin = time.perf_counter()
        with driver.cursor() as cursor, dump.open("rb") as source:
            into = f"COPY assignment_raw ({names}) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(into) as copy:
                while block := source.read(1 << 20):
                    copy.write(block)
        seconds = time.perf_counter() - begin  # the COPY; the commit follows
    return rows, seconds


def _raw_sqlite(engine: Engine, copy_path: Path) -> tuple[int, float]:
    """Seconds for a plain sqlite3 executemany of the rows, same pragmas as the app."""
    columns = [getattr(Assignment, name) for name in dispatch.ASSIGNMENT_COLUMNS]
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(*columns).order_by(col(Assignment.id)))]
    raw = sqlite3.connect(copy_path)
    raw.execute("PRAGMA foreign_keys=ON")
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    marks = ", ".join("?" * len(dispatch.ASSIGNMENT_COLUMNS))
    sql = f"INSERT INTO assignment ({', '.join(dispatch.ASSIGNMENT_COLUMNS)}) VALUES ({marks})"
    begin = time.perf_counter()
    raw.executemany(sql, rows)
    raw.commit()
    seconds = time.perf_counter() - begin
    raw.close()
    return len(rows), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--asn", type=int, default=100_000, help="number of ASN (3 accounts each)")
    parser.add_argument("--agencies", type=int, default=1, help="agencies in the campaign")
    parser.add_argument("--workers", type=int, default=1, help="processes running the parts")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (default SQLite)")
    parser.add_argument("--child", nargs=2, metavar=("URL", "POSTS"), help="internal")
    args = parser.parse_args()
    if args.child:
        url, posts = args.child
        _dispatch_child(url, [int(p) for p in posts.split(",")], args.workers)
        return

    with _database(args.database_url) as (url, scratch):
        engine = make_engine(url)
        upgrade(engine)
        print(f"seeding {args.asn:,} ASN x {len(PLATFORMS)} accounts in {args.agencies} agencies")
        _post_id, post_ids = _seed_agencies(engine, args.asn, args.agencies)
        engine.dispose()  # SQLite: checkpoints the WAL so the copy is the whole database
        sqlite_copy = scratch / "raw.db"
        if engine.dialect.name == "sqlite":
            shutil.copyfile(make_url(url).database or "", sqlite_copy)

        child = [sys.executable, __file__, "--workers", str(args.workers)]
        child += ["--child", url, ",".join(map(str, post_ids))]
        print(f"dispatching {len(post_ids)} posts with {args.workers} worker(s) ...", flush=True)
        output = subprocess.run(child, check=True, capture_output=True, text=True).stdout
        measured = json.loads(output.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        sizes: dict[str, float] = {}
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                table, indexes = conn.exec_driver_sql(
                    "SELECT pg_table_size('assignment'), pg_indexes_size('assignment')"
                ).one()
            per_million = 1_000_000 / max(1, int(measured["created"])) / 2**20
            sizes = {
                "table_mb_per_million": round(table * per_million, 1),
                "indexes_mb_per_million": round(indexes * per_million, 1),
            }
            rows, raw_seconds = _raw_postgres(engine, scratch)
        else:
            rows, raw_seconds = _raw_sqlite(engine, sqlite_copy)
        engine.dispose()

    created, seconds = int(measured["created"]), float(measured["seconds"])
    assert created == rows == args.asn * len(PLATFORMS), (created, rows)
    print(f"dispatch: {created:,} assignments in {seconds:.2f} s ({created / seconds:,.0f}/s)")
    print(f"raw insert of the same rows: {raw_seconds:.2f} s ({rows / raw_seconds:,.0f}/s)")
    print(
        json.dumps(
            {
                "assignments": created,
                "seconds": round(seconds, 3),
                "raw_seconds": round(raw_seconds, 3),
                "ratio": round(raw_seconds / seconds, 3),
                "peak_rss_mb": round(peak_mb, 1),
                "agencies": args.agencies,
                "workers": args.workers,
                "database": engine.dialect.name,
                **sizes,
            }
        )
    )


if __name__ == "__main__":
    main()
