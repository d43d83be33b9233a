"""Benchmark: verify reposts of one official X post for 10,000 assigned ASN, 6,000 of whom reposted.

    .venv/bin/python bench/verify.py [--asn 10000] [--reposted 6000]

Seeds a fresh migrated SQLite database, dispatches the post, then runs ``verify_post`` against
a local fake of X's recent-search endpoint (a requests transport adapter mounted on tweepy's
session, answering documented v2 pages of 100 tweets with ``next_token`` paging). The search
costs per official post: about one call per 100 reposts, against one call per ASN for a naive
per-person lookup. The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from assignments.models import Assignment, AssignmentStatus
from bench.seed import approved_post
from channels.x import XPlatform
from gaung.db import make_engine, utcnow
from gaung.migrate import upgrade
from roster.models import AsnStatus
from scheduler.dispatch import dispatch_post
from scheduler.verify import verify_post

OFFICIAL = "1895000000000000001"
API = "https://api.x.bench"
PAGE = 100
USER_ID_BASE = 50_000_000


class FakeSearch(BaseAdapter):
    """GET /2/tweets/search/recent over a fixed list of retweets, newest first."""

    def __init__(self, author_ids: list[str]) -> None:
        super().__init__()
        base = int(OFFICIAL)
        self.tweets: list[dict[str, Any]] = [
            {
                "id": str(base + len(author_ids) - n),
                "text": "RT @kominfo: Program Digitalisasi UMKM",
                "author_id": author,
                "created_at": "2025-03-01T02:30:00.000Z",
                "referenced_tweets": [{"type": "retweeted", "id": OFFICIAL}],
                "edit_history_tweet_ids": [str(base + len(author_ids) - n)],
            }
            for n, author in enumerate(author_ids)
        ]
        self.calls = 0

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        self.calls += 1
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}
        since = int(query.get("since_id", "0"))
        fresh = [t for t in self.tweets if int(t["id"]) > since]
        start = int(query.get("next_token", "0"))
        page = fresh[start : start + PAGE]
        meta: dict[str, Any] = {"result_count": len(page)}
        body: dict[str, Any] = {"meta": meta}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
            body["data"] = page
            users = [
                {"id": t["author_id"], "name": "ASN", "username": f"u{t['author_id']}"}
                for t in page
            ]
            body["includes"] = {"users": users}
        if start + PAGE < len(fresh):
            meta["next_token"] = str(start + PAGE)
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"content-type": "application/json"})
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""


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
        fake = FakeSearch(authors)
        x = XPlatform("bench-bearer", API)
        x.client.session.mount(API + "/", fake)
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
