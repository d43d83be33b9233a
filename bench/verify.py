"""Benchmark: verify reposts of one official X post for 10,000 assigned ASN, 6,000 of whom reposted.

    .venv/bin/python bench/verify.py [--asn 10000] [--reposted 6000]

Seeds a fresh migrated SQLite database, dispatches the post, then runs ``verify_post`` against
the tests' fake of the X API v2 (tests/channels/fakes_x.py: a requests transport adapter on
tweepy's session, answering recent search with documented pages of 100 tweets, ``since_id``
and ``next_token`` paging). The search costs per official post: about one call per 100
reposts, against one call per ASN for a naive per-person lookup. The last line printed is one
JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from assignments.models import Assignment, AssignmentStatus
from bench.seed import approved_post
from gaung.db import make_engine, utcnow
from gaung.migrate import upgrade
from roster.models import AsnStatus
from scheduler.dispatch import dispatch_post
from scheduler.verify import verify_post
from tests.channels import fakes_x

OFFICIAL = "1895000000000000001"
USER_ID_BASE = 50_000_000


def fake_x(author_ids: list[str]) -> fakes_x.FakeX:
    """X with the official post and one retweet of it by each of ``author_ids``, newest first."""
    fake = fakes_x.FakeX()
    official = fakes_x.tweet(OFFICIAL, "1", "Program Digitalisasi UMKM")
    fake.post(official)
    base = int(OFFICIAL)
    for n, author in enumerate(author_ids):
        fake.post(fakes_x.retweet(str(base + len(author_ids) - n), author, official, "kominfo"))
        fake.sign_up(fakes_x.user(author, f"u{author}"))
    return fake


def _seed(engine: Engine, asn_count: int) -> int:
    """One agency and unit, ``asn_count`` ASN with an X account each; returns the post id."""
    now = utcnow()
    seeded = approved_post(
        engine,
        unit_names=["Biro Humas"],
        master_text="Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha.",
        platforms="x",
        official_url_x=f"https://x.com/kominfo/status/{OFFICIAL}",
    )
    agency_id, unit_id, post_id = seeded.agency_id, seeded.unit_ids[0], seeded.post_id
    assert post_id is not None
    stamp = str(now.replace(tzinfo=None))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO asn (id, agency_id, unit_id, nip, name, email, messenger, status,"
            " consent_at, consent_version, locale, login_epoch, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (n, agency_id, unit_id, f"{198001012006040000 + n}", f"ASN {n}",
                 f"asn{n}@kominfo.go.id", "email", AsnStatus.ACTIVE.value, stamp, "v1", "id", 0,
                 stamp)
                for n in range(1, asn_count + 1)
            ],
        )  # fmt: skip
        conn.exec_driver_sql(
            "INSERT INTO social_account (asn_id, platform, platform_user_id, handle, followers,"
            " followers_at, ownership_verified_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (n, "x", str(USER_ID_BASE + n), f"asn{n}_x", 1000, stamp, stamp, stamp)
                for n in range(1, asn_count + 1)
            ],
        )
    return post_id


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--asn", type=int, default=10_000)
    parser.add_argument("--reposted", type=int, default=6_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        post_id = _seed(engine, args.asn)
        assigned = dispatch_post(engine, post_id)
        # The first --reposted ASN reposted; the rest did not.
        authors = [str(USER_ID_BASE + n) for n in range(1, args.reposted + 1)]
        x = fakes_x.connect(fake_x(authors), "bench-bearer")
        first = verify_post(engine, post_id, 0, platform=x)
        again = verify_post(engine, post_id, 1, platform=x)  # since_id: nothing new, one call
        with Session(engine) as session:
            verified = session.exec(
                select(func.count())
                .select_from(Assignment)
                .where(Assignment.status == AssignmentStatus.VERIFIED)
            ).one()
        engine.dispose()
    calls = first.api_calls
    print(f"assigned on X:              {assigned}")
    print(f"reposted (in fake X):       {args.reposted}")
    print(f"reposts verified:           {verified}")
    print(f"API calls, paged search:    {calls} (+{again.api_calls} for a round with nothing new)")
    print(f"API calls, naive per ASN:   {assigned}")
    result = {
        "assigned": assigned,
        "reposted": args.reposted,
        "reposts_verified": verified,
        "api_calls": calls,
        "naive_calls": assigned,
        "calls_per_100_verified": round(100 * calls / verified, 3) if verified else None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
