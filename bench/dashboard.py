"""Benchmark: the dashboard's reach query for one campaign of 1,000,000 assignments and
3,000,000 clicks on PostgreSQL.

    .venv/bin/python bench/dashboard.py [--assignments 1000000] [--clicks 3000000] [--runs 20]
        [--url postgresql://postgres@127.0.0.1:5432] [--keep]

Creates the database ``gaung_bench_dashboard`` (dropped again unless ``--keep``), migrates
it, seeds the agency and post with bench/seed.py and the rest with ``INSERT ... SELECT
generate_series`` (foreign-key triggers off while seeding: the rows are generated consistent):
ASN with an X, Facebook and Instagram account each, one assignment per account in every state,
metrics snapshots of the verified X reposts, verification and metrics call counters, and the
clicks spread over the assignments. Seeding is not timed.

Then it times, each in a fresh session as a page view has:

- the live aggregate (``campaign_reach``: every figure, exact) a few times: what the
  ``reach_snapshot`` job runs in the background;
- the snapshot job once;
- ``dashboard_reach``, what the dashboard page calls, ``--runs`` times: for a campaign this
  big it reads the stored snapshot and puts the live roll-up counts over it;
- the live figures alone (``assignments.rollup.live_figures``: the campaign's roll-up rows
  summed, no snapshot), ``--runs`` times: ``live_p50_ms``.

The seeding bypasses the triggers, so the roll-ups are filled by one recount (``rollup.fix``,
what ``gaung reach check --fix`` runs) after it; then a burst of activity goes through the
triggers (1% of the pending assignments reported, 1% of the reported verified, 30,000 clicks in
batches of 500 as the click flush writes them; timed, printed), and ``matches_recount`` says
whether the roll-ups still equal a recount from the raw rows afterwards.

The last line printed is one JSON object with the figures of the dashboard's query.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assignments import rollup
from assignments.reach import campaign_reach, headline
from assignments.reach_snapshot import REPOSTERS_SHOWN, dashboard_reach
from bench.seed import approved_post
from gaung.db import make_engine
from gaung.migrate import upgrade
from scheduler.reach_snapshots import take_snapshot

DATABASE = "gaung_bench_dashboard"
UNITS = 20
# One state per assignment, by (account id % 20): 40% verified, 15% reported, 5% rejected,
# 5% declined, 5% expired, 30% pending.
STATES = ["verified"] * 8 + ["reported"] * 3 + ["rejected", "declined", "expired"] + ["pending"] * 6


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(f"{url}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.encode())  # constant statements only


def _seed(engine: Engine, assignments: int, clicks: int) -> int:
    """Everything but the timing; returns the campaign id."""
    seeded = approved_post(
        engine,
        unit_names=[f"Biro {n:02d}" for n in range(1, UNITS + 1)],
        master_text="Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha.",
        official_url_x="https://x.com/kominfo/status/1895000000000000001",
    )
    with Session(engine) as session:
        found = session.connection().exec_driver_sql(
            f"SELECT campaign_id FROM post WHERE id = {seeded.post_id}"
        )
        campaign_id = int(found.scalar_one())
    people = -(-assignments // 3)
    units = "ARRAY[" + ",".join(str(u) for u in seeded.unit_ids) + "]"
    states = "ARRAY[" + ",".join(f"'{s}'" for s in STATES) + "]"
    steps = [
        "SET session_replication_role = replica",  # no FK triggers: the rows are consistent
        f"""INSERT INTO asn (agency_id, unit_id, name, messenger, status, consent_at,
                consent_version, locale, login_epoch, created_at)
            SELECT {seeded.agency_id}, ({units})[1 + g % {UNITS}], 'ASN ' || g, 'email',
                'active', now(), 'v1', 'id', 0, now()
            FROM generate_series(1, {people}) g""",
        """INSERT INTO social_account (asn_id, platform, platform_user_id, handle, followers,
                followers_at, ownership_verified_at, created_at)
            SELECT a.id, p, p || '-' || a.id, 'asn' || a.id || p,
                500 + (a.id::bigint * 7919) % 50000, now(), now(), now()
            FROM asn a CROSS JOIN unnest(ARRAY['x', 'facebook', 'instagram']) p""",
        f"""INSERT INTO assignment (post_id, campaign_id, unit_id, asn_id, account_id, platform,
                code, status, deadline, created_at, repost_url, repost_key, reported_at,
                followers_at_report, verified_at, flagged_gone_at)
            SELECT {seeded.post_id}, {campaign_id}, a.unit_id, a.id, s.id, s.platform,
                md5(s.id::text),
                st, now() + interval '2 days', now() - interval '3 days',
                CASE WHEN st IN ('reported', 'verified', 'rejected')
                     THEN 'https://x.com/u/status/' || s.id END,
                CASE WHEN st IN ('reported', 'verified', 'rejected')
                     THEN s.platform || ':' || s.id END,
                CASE WHEN st IN ('reported', 'verified', 'rejected')
                     THEN now() - interval '3 days' + (s.id % 2880) * interval '1 minute' END,
                CASE WHEN st IN ('reported', 'verified', 'rejected') THEN s.followers END,
                CASE WHEN st = 'verified' THEN now() - interval '1 day' END,
                CASE WHEN st = 'verified' AND s.id % 97 = 0 THEN now() END
            FROM social_account s
            JOIN asn a ON a.id = s.asn_id
            CROSS JOIN LATERAL (SELECT ({states})[1 + s.id % {len(STATES)}] AS st) t
            ORDER BY s.id
            LIMIT {assignments}""",
        """INSERT INTO repost_metrics (assignment_id, campaign_id, platform, "window",
                platform_post_id, impressions, likes, reposts, replies, taken_at)
            SELECT id, campaign_id, platform, w, split_part(repost_key, ':', 2),
                CASE WHEN id % 3 = 0 THEN NULL ELSE id % 5000 END,
                id % 40, id % 7, id % 5, now()
            FROM assignment CROSS JOIN unnest(ARRAY['1h', '24h']) w
            WHERE status = 'verified' AND platform = 'x'""",
        f"""INSERT INTO verify_cursor (post_id, platform, campaign_id, since_id, api_calls,
                rounds, last_run_at)
            VALUES ({seeded.post_id}, 'x', {campaign_id}, '1', 4100, 96, now())""",
        f"""INSERT INTO api_usage (campaign_id, platform, purpose, day, calls)
            VALUES ({campaign_id}, 'x', 'metrics', current_date, 2700)""",
        f"""INSERT INTO click (assignment_id, campaign_id, at, source)
            SELECT first + (g::bigint * 7919) % total, campaign,
                now() - (g % 259200) * interval '1 second',
                (ARRAY['', 'x', 'facebook', 'instagram'])[1 + g % 4]
            FROM (SELECT min(id) AS first, count(*) AS total, min(campaign_id) AS campaign
                  FROM assignment) a
            CROSS JOIN generate_series(1, {clicks}) g""",
        "SET session_replication_role = origin",
    ]
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        for step in steps:
            conn.execute(step.encode())  # generated here from ints and constants only
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(b"VACUUM ANALYZE")  # as autovacuum would have by the time anyone looks
    return campaign_id


def _fill_rollups(engine: Engine) -> float:
    """The roll-ups from a recount (seeding went around the triggers); seconds taken."""
    started = time.perf_counter()
    with Session(engine) as session:
        rollup.fix(session)
        session.commit()
    return time.perf_counter() - started


def _activity(engine: Engine, campaign_id: int, clicks: int, batch: int = 500) -> float:
    """Reports, verifications and clicks through the triggers; seconds taken."""
    cid = int(campaign_id)
    started = time.perf_counter()
    with Session(engine) as session:
        conn = session.connection()
        conn.exec_driver_sql(
            "UPDATE assignment SET status = 'reported', reported_at = now(),"
            " followers_at_report = 1234, repost_key = 'bench:' || id"
            f" WHERE campaign_id = {cid} AND status = 'pending' AND id %% 100 = 0"
        )
        conn.exec_driver_sql(
            "UPDATE assignment SET status = 'verified', verified_at = now()"
            f" WHERE campaign_id = {cid} AND status = 'reported' AND id %% 100 = 1"
        )
        session.commit()
    with Session(engine) as session:
        ids = [
            int(i)
            for (i,) in session.connection().exec_driver_sql(
                f"SELECT id FROM assignment WHERE campaign_id = {cid} ORDER BY id LIMIT {batch}"
            )
        ]
    for _ in range(max(1, clicks // batch)):
        with engine.begin() as conn:  # one click flush: one multi-row INSERT
            values = ", ".join(f"({i}, {cid}, now(), 'x')" for i in ids)
            conn.exec_driver_sql(
                f"INSERT INTO click (assignment_id, campaign_id, at, source) VALUES {values}"
            )
    return time.perf_counter() - started


def _matches_recount(engine: Engine, campaign_id: int) -> bool:
    with Session(engine) as session:
        return rollup.differences(session, campaign_id) == []


def _counts(engine: Engine, campaign_id: int) -> tuple[int, int]:
    with Session(engine) as session:
        conn = session.connection()
        where = f"WHERE campaign_id = {campaign_id}"  # an int from our own seeding
        assignments = conn.exec_driver_sql(f"SELECT count(*) FROM assignment {where}").scalar_one()
        clicks = conn.exec_driver_sql(f"SELECT count(*) FROM click {where}").scalar_one()
    return int(assignments), int(clicks)


def _time(engine: Engine, runs: int, query: Callable[[Session], object]) -> list[float]:
    """Milliseconds per run, each in a fresh session (one page view)."""
    timings = []
    for _ in range(runs):
        with Session(engine) as session:
            started = time.perf_counter()
            query(session)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--assignments", type=int, default=1_000_000)
    parser.add_argument("--clicks", type=int, default=3_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--live-runs", type=int, default=3)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    _admin(base, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    _admin(base, f'CREATE DATABASE "{DATABASE}"')
    engine = make_engine(f"{base}/{DATABASE}")
    try:
        upgrade(engine)
        started = time.perf_counter()
        campaign_id = _seed(engine, args.assignments, args.clicks)
        print(f"roll-ups filled by a recount in {_fill_rollups(engine):.1f} s")
        burst = _activity(engine, campaign_id, 30_000)
        print(f"activity through the triggers (1% of pending reported, 1% of reported "
              f"verified, 30,000 clicks in flushes of 500): {burst:.1f} s")  # fmt: skip
        assignments, clicks = _counts(engine, campaign_id)
        print(f"seeded {assignments:,} assignments and {clicks:,} clicks on PostgreSQL "
              f"in {time.perf_counter() - started:.0f} s (not timed below)")  # fmt: skip
        matches = _matches_recount(engine, campaign_id)
        print(f"roll-ups equal a recount from the raw rows: {matches}")

        live = _time(
            engine,
            args.live_runs,
            lambda s: campaign_reach(s, campaign_id, reposters_limit=REPOSTERS_SHOWN),
        )
        print(f"live aggregate (every figure, exact; run by the snapshot job): "
              f"{', '.join(f'{t:,.0f}' for t in live)} ms")  # fmt: skip
        snapshot = take_snapshot(engine, campaign_id)
        assert snapshot is not None
        print(f"snapshot job: {snapshot.seconds * 1000:,.0f} ms to compute, "
              f"{len(snapshot.payload):,} bytes stored")  # fmt: skip

        _time(engine, 2, lambda s: dashboard_reach(s, campaign_id))  # warm the pool
        served = _time(engine, args.runs, lambda s: dashboard_reach(s, campaign_id))
        p50, p99 = statistics.median(served), _percentile(served, 0.99)
        print(f"dashboard reach query ({args.runs} runs, snapshot with live counts): "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")  # fmt: skip
        live_runs = _time(
            engine, args.runs, lambda s: headline(rollup.live_figures(s, campaign_id).total)
        )
        live_p50 = statistics.median(live_runs)
        print(f"live figures from the roll-ups ({args.runs} runs, no snapshot): "
              f"p50 {live_p50:.2f} ms, p99 {_percentile(live_runs, 0.99):.2f} ms")  # fmt: skip
    finally:
        engine.dispose()
        if not args.keep:
            _admin(base, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    result = {
        "assignments": assignments,
        "clicks": clicks,
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "live_p50_ms": round(live_p50, 2),
        "matches_recount": matches,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
