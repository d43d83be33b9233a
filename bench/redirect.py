"""Benchmark: the tracking redirect under load, against a bare ASGI app on the same server.

    .venv/bin/python bench/redirect.py [--assignments 10000] [--seconds 10] [--rounds 3]

Seeds a fresh PostgreSQL database (production's database; ``--database-url`` for
another, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres`` is the admin URL the
default is derived from) with one campaign and ``--assignments`` personal tracking
codes, starts ``gaung serve --no-scheduler`` on 127.0.0.1 as a subprocess (the
production server options: uvicorn, one process, no access log, JSON logs). Every
code is clicked once first (16 keep-alive connections from this process): a first
click misses the in-process cache and costs one indexed read, and that rate is
printed. Then ``wrk -t2 -c64 -d10s --latency`` loads it with a Lua script cycling
through all the codes, each wrk thread from its own offset: the steady state of a
campaign whose links are being clicked, answered from memory (the share of cache
hits in the measured run is read from ``/metrics`` and printed; the cache holds
100,000 codes per process by default). Any answer but a 302 counts as an error.

A bare ASGI app that returns the same 302 (the very headers Gaung's carried:
Location, Referrer-Policy, the security headers) is served by the same uvicorn
options and loaded the same way. The two are loaded in alternating rounds
(``--rounds 3``; the idle one costs nothing) and each one's best round is reported,
since other work on a shared machine can only slow a round down. The Gaung server
is then stopped with SIGTERM, so its buffered clicks are written, and the clicks
stored are counted against the 302s the server sent (its ``gaung_redirects_total``:
the first clicks, the 302s wrk received, and the few still in flight when wrk
stopped reading at the end of a run).
The last line printed is one JSON object:
{"rps", "bare_rps", "ratio", "p50_ms", "p99_ms", "redirects_served", "clicks_stored"}.
Targets: ratio >= 0.5, clicks_stored == redirects_served.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from assignments.models import Assignment, Click
from bench.seed import approved_post
from content.models import Post
from gaung.db import make_engine, utcnow
from gaung.migrate import upgrade
from scheduler.dispatch import CODE_BYTES

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("GAUNG_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "gaung_bench_redirect"
LINK = "https://www.kominfo.go.id/berita/umkm-digital"
WAIT_SECONDS = 60
_assignment = Assignment.__table__  # type: ignore[attr-defined]
_click = Click.__table__  # type: ignore[attr-defined]
_post = Post.__table__  # type: ignore[attr-defined]

WRK_SCRIPT = r"""
-- Cycle through every tracking code; count 302s and everything else separately.
local codes = {}
for line in io.lines(os.getenv("GAUNG_BENCH_CODES")) do codes[#codes + 1] = line end
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = math.floor(id * #codes / 2)
  redirects = 0
  others = 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/r/" .. codes[(counter % #codes) + 1])
end

function response(status, headers, body)
  if status == 302 then redirects = redirects + 1 else others = others + 1 end
end

function done(summary, latency, requests)
  local redirects, others = 0, 0
  for _, t in ipairs(threads) do
    redirects = redirects + t:get("redirects")
    others = others + t:get("others")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "redirects": %d, "others": %d, '
    .. '"p50_us": %d, "p99_us": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, redirects, others,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout))
end
"""


def _same_302() -> list[tuple[bytes, bytes]]:
    """The headers Gaung's 302 carried (GAUNG_BENCH_302), so both apps send the same bytes."""
    copied = json.loads(os.environ.get("GAUNG_BENCH_302", "[]"))
    fallback = [["location", LINK], ["content-length", "0"]]
    return [(name.encode(), value.encode()) for name, value in copied or fallback]


_BARE_HEADERS = _same_302()


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The least an ASGI app can do to answer the same 302 (and survive the lifespan)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 302, "headers": _BARE_HEADERS})
    await send({"type": "http.response.body", "body": b""})


def _fresh_database(url: str | None) -> str:
    if url:
        return url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{DATABASE}"


def _seed(engine: Engine, count: int) -> list[str]:
    """One campaign and its post, and ``count`` assignments with personal codes."""
    seeded = approved_post(
        engine, unit_names=["Biro Humas"], master_text="Program Digitalisasi UMKM", link=LINK
    )
    with engine.connect() as conn:
        campaign_id: int = conn.execute(
            select(_post.c.campaign_id).where(_post.c.id == seeded.post_id)
        ).scalar_one()
    deadline = utcnow() + timedelta(days=2)
    codes = [secrets.token_urlsafe(CODE_BYTES) for _ in range(count)]
    rows = [
        Assignment(
            post_id=seeded.post_id,
            campaign_id=campaign_id,
            unit_id=seeded.unit_ids[0],
            platform=("x", "facebook", "instagram")[n % 3],
            code=code,
            deadline=deadline,
        ).model_dump(exclude={"id"})
        for n, code in enumerate(codes)
    ]
    with engine.begin() as conn:
        conn.execute(insert(_assignment), rows)
    return codes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    status, body, _headers = _fetch(port, path)
    return status, body


def _fetch(port: int, path: str) -> tuple[int, str, list[tuple[str, str]]]:
    """GET from the server on 127.0.0.1; redirects are never followed (they lead outside)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read().decode(), answer.getheaders()
    finally:
        conn.close()


def _wait_until_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited early ({proc.returncode})")
        try:
            _get(port, "/healthz")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not come up")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM: uvicorn shuts the app down cleanly (the click buffer is written)."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SystemExit("the server did not stop on SIGTERM") from None


def _wrk(port: int, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    command = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
    command += ["-s", env["GAUNG_BENCH_SCRIPT"], f"http://127.0.0.1:{port}/"]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("WRK "))
    result: dict[str, Any] = json.loads(line[4:])
    result["rps"] = result["redirects"] / (result["duration_us"] / 1e6)
    print(output.replace(line + "\n", ""), flush=True)
    return result


def _warm_up(port: int, codes: list[str], threads: int = 16) -> float:
    """Click every code once (its first click: one indexed read); returns clicks per second."""
    chunks = [codes[n::threads] for n in range(threads)]

    def click_all(chunk: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for code in chunk:
                conn.request("GET", f"/r/{code}")
                answer = conn.getresponse()
                answer.read()
                if answer.status != 302:
                    raise SystemExit(f"/r/{code} answered {answer.status}")
        finally:
            conn.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(click_all, chunks))
    return len(codes) / (time.perf_counter() - start)


def _counter(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def _lookups(metrics: str) -> dict[str, float]:
    found = {}
    for line in metrics.splitlines():
        if line.startswith("gaung_redirect_lookups_total{"):
            label, value = line.rsplit(" ", 1)
            found[label.split('"')[1]] = float(value)
    return found


def _serve(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--database-url", help="an existing, empty database instead")
    args = parser.parse_args()

    url = _fresh_database(args.database_url)
    engine = make_engine(url)
    upgrade(engine)
    print(f"seeding {args.assignments:,} tracking codes on {engine.dialect.name} ...", flush=True)
    codes = _seed(engine, args.assignments)
    with tempfile.TemporaryDirectory(prefix="gaung-bench-") as tmp:
        codes_file, script = Path(tmp) / "codes.txt", Path(tmp) / "cycle.lua"
        codes_file.write_text("\n".join(codes) + "\n")
        script.write_text(WRK_SCRIPT)
        env = {
            **os.environ,
            "GAUNG_DATABASE_URL": url,
            "GAUNG_SECRET_KEY": secrets.token_urlsafe(32),
            "GAUNG_MEDIA_DIR": f"{tmp}/media",
            "GAUNG_LOG_FORMAT": "json",
            "GAUNG_BENCH_CODES": str(codes_file),
            "GAUNG_BENCH_SCRIPT": str(script),
        }
        log = Path(tmp) / "server.log"

        port = _free_port()
        gaung = Path(sys.executable).with_name("gaung")
        server = _serve([str(gaung), "serve", "--no-scheduler", "--port", str(port)], env, log)
        bare: subprocess.Popen[bytes] | None = None
        try:
            _wait_until_up(port, server)
            first_rate = _warm_up(port, codes)
            print(f"first clicks: {len(codes):,} codes at {first_rate:,.0f}/s (a read each)")
            # The bare app answers with exactly these headers (uvicorn adds the date).
            status, _, headers = _fetch(port, f"/r/{codes[0]}")
            assert status == 302, status
            same = [[k.lower(), v] for k, v in headers if k.lower() != "date"]
            env["GAUNG_BENCH_302"] = json.dumps(same)
            bare_port = _free_port()
            bare_code = (
                "import uvicorn; from cli.main import uvicorn_options; "
                f"uvicorn.run('bench.redirect:bare_app', **uvicorn_options(port={bare_port}))"
            )
            bare = _serve([sys.executable, "-c", bare_code], env, log)
            _wait_until_up(bare_port, bare)
            before = _lookups(_get(port, "/metrics")[1])
            # Alternate the two servers (the idle one costs nothing): a load spike from
            # elsewhere on the machine then hits one round, not one server.
            runs: dict[str, list[dict[str, Any]]] = {"gaung": [], "bare": []}
            for round_ in range(1, args.rounds + 1):
                for name, target in (("gaung", port), ("bare", bare_port)):
                    print(f"round {round_}, {name}:", flush=True)
                    runs[name].append(_wrk(target, args, env))
            scrape = _get(port, "/metrics")[1]
            after = _lookups(scrape)
            lookups = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
            served = int(_counter(scrape, "gaung_redirects_total"))
        finally:
            _stop(server)
            if bare is not None:
                _stop(bare)
        with engine.connect() as conn:
            stored = int(conn.scalar(select(func.count()).select_from(_click)) or 0)
    engine.dispose()

    app = max(runs["gaung"], key=lambda r: float(r["rps"]))
    base = max(runs["bare"], key=lambda r: float(r["rps"]))
    for name, results in runs.items():
        rates = ", ".join(f"{r['rps']:,.0f}" for r in results)
        print(f"{name}: 302/s per round {rates}; the best round is reported")
    cached = lookups.get("cache", 0.0)
    read = lookups.get("database", 0.0)
    hit_share = cached / (cached + read) if cached + read else 0.0
    print(
        f"gaung: {app['rps']:,.0f} 302/s, p50 {app['p50_us'] / 1000:.2f} ms,"
        f" p99 {app['p99_us'] / 1000:.2f} ms; non-302"
        f" {sum(r['others'] for r in runs['gaung'])}, socket errors"
        f" {sum(r['socket_errors'] for r in runs['gaung'])} (all rounds)"
    )
    print(
        f"bare:  {base['rps']:,.0f} 302/s, p50 {base['p50_us'] / 1000:.2f} ms,"
        f" p99 {base['p99_us'] / 1000:.2f} ms"
    )
    print(
        f"cache: {hit_share:.1%} of the measured redirects answered from memory"
        f" ({cached:,.0f} hits, {read:,.0f} database reads; {len(codes):,} codes)"
    )
    received = sum(r["redirects"] for r in runs["gaung"])
    in_flight = served - received - len(codes)
    print(
        f"clicks stored {stored:,} for {served:,} 302s the server sent: {len(codes):,} first"
        f" clicks, {received:,} received by wrk, {in_flight:,} still in flight when wrk"
        " stopped reading"
    )
    result = {
        "rps": round(app["rps"], 1),
        "bare_rps": round(base["rps"], 1),
        "ratio": round(app["rps"] / base["rps"], 3),
        "p50_ms": round(app["p50_us"] / 1000, 3),
        "p99_ms": round(app["p99_us"] / 1000, 3),
        "redirects_served": served,
        "clicks_stored": stored,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
