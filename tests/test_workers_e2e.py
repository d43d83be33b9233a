"""Four real `gaung worker` processes drain 10,000 messages on PostgreSQL; one is SIGKILLed.

The messenger is the agency webhook gateway (channels.webhook), faked by a real HTTP
server in this process that behaves like an idempotent API: the first request with an
``Idempotency-Key`` delivers, a later one with the same key only replays the answer.
The killed worker's claimed messages wait out their (short) lease, are queued again
with the same key by a surviving worker and sent: every message is delivered exactly
once, none is left unknown, failed or unsent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from gaung.db import make_engine, utcnow
from gaung.migrate import upgrade
from gaung.settings import PROJECT_ROOT
from kernel.outbox import OutboxMessage, OutboxStatus
from tests.conftest import PG_ADMIN_URL
from tests.factories import make_agency, make_asn, make_unit

pytestmark = pytest.mark.slow

MESSAGES = 10_000
WORKERS = 4
LEASE_SECONDS = 8  # short, so the dead worker's messages are taken over within the test
RATE = 400  # messages per second for the whole cluster: about 25 s of sending
DEADLINE_SECONDS = 240  # upper bound for a loaded machine; not a timing assertion
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


class Gateway:
    """What the fake gateway saw: every raw POST, the first answer per key, the replays."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.posts: list[str] = []
        self.delivered: list[str] = []
        self.answers: dict[str, dict[str, Any]] = {}
        self.replays = 0


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = self.headers.get("Idempotency-Key", "")
            with gateway.lock:
                gateway.posts.append(key)
                answer = gateway.answers.get(key)
                if answer is None:
                    # First time: deliver (record), and remember the answer for replays.
                    gateway.delivered.append(key)
                    answer = {"id": f"gw-{len(gateway.delivered)}", "to": body["to"]}
                    gateway.answers[key] = answer
                else:
                    gateway.replays += 1
            data = json.dumps(answer).encode()
            # One write for head and body: no Nagle/delayed-ACK stall between the two.
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}"
            )
            self.wfile.write(f"{head}\r\nConnection: close\r\n\r\n".encode() + data)
            self.close_connection = True

    return Handler


@pytest.fixture
def gateway() -> Iterator[tuple[Gateway, str]]:
    seen = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(seen))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen, f"http://127.0.0.1:{server.server_address[1]}/send"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of its own (the workers are other processes)."""
    name = f"gaung_e2e_workers_{os.getpid()}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(engine: Engine) -> list[str]:
    """Ten ASN on the webhook messenger and 10,000 due messages to them; returns the keys."""
    with Session(engine, expire_on_commit=False) as session:
        agency = make_agency(session)
        unit = make_unit(session, agency)
        people = [make_asn(session, unit) for _ in range(10)]
    now = utcnow()
    keys = [f"e2e:{n}" for n in range(MESSAGES)]
    rows = [
        OutboxMessage(
            key=key,
            asn_id=people[n % len(people)].id or 0,
            messenger="webhook",
            recipient=f"+62812{n:07d}",
            subject="Penugasan baru",
            text=f"Pesan {n}",
            run_at=now,
        ).model_dump(exclude={"id"})
        for n, key in enumerate(keys)
    ]
    with engine.begin() as conn:
        conn.execute(insert(_outbox), rows)
    return keys


def _statuses(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(_outbox.c.status, func.count()).group_by(_outbox.c.status))
        return Counter({status: count for status, count in rows})


def _sending_of(engine: Engine, pid: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count()).where(
                    _outbox.c.status == OutboxStatus.SENDING,
                    _outbox.c.worker.like(f"%:{pid}"),
                )
            )
            or 0
        )


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    gaung = Path(sys.executable).with_name("gaung")
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(gaung), "worker"], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out
        )


def _drained(engine: Engine) -> bool:
    """Nothing left to send: all sent, or something ended up unknown or failed (the asserts)."""
    time.sleep(0.5)  # poll gently: the workers need the CPU
    statuses = _statuses(engine)
    stuck = statuses[OutboxStatus.UNKNOWN] + statuses[OutboxStatus.FAILED]
    return statuses[OutboxStatus.SENT] == MESSAGES or stuck > 0


def _wait(condition: Any, what: str, deadline: float, state: Any) -> None:
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {state()}")
        time.sleep(0.05)


def test_four_workers_send_every_message_exactly_once_when_one_is_killed(
    pg_url: str, gateway: tuple[Gateway, str], tmp_path: Path
) -> None:
    seen, url = gateway
    engine = make_engine(pg_url)
    upgrade(engine)
    keys = _seed(engine)
    env = {
        **os.environ,
        "GAUNG_DATABASE_URL": pg_url,
        "GAUNG_WEBHOOK__URL": url,
        "GAUNG_RATE_LIMITS__WEBHOOK": str(RATE),
        "GAUNG_SCHEDULER__LEASE_SECONDS": str(LEASE_SECONDS),
        "GAUNG_SCHEDULER__POLL_SECONDS": "0.5",
        "GAUNG_LOG_FORMAT": "json",
    }
    log = tmp_path / "workers.log"
    workers = [_start_worker(env, log) for _ in range(WORKERS)]
    deadline = time.monotonic() + DEADLINE_SECONDS
    victim = workers[0]

    def state() -> Any:
        return _statuses(engine), len(seen.delivered), log.read_text()[-2000:]

    try:
        # Kill one worker mid-run, while it holds claimed messages.
        _wait(lambda: len(seen.delivered) >= MESSAGES // 4, "a quarter sent", deadline, state)
        _wait(lambda: _sending_of(engine, victim.pid) > 0, "the victim's claim", deadline, state)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        orphaned = _sending_of(engine, victim.pid)
        delivered_at_kill = len(seen.delivered)

        _wait(lambda: _drained(engine), "the queue to drain", deadline, state)
    finally:
        for proc in workers[1:]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    statuses = _statuses(engine)
    with engine.connect() as conn:
        stored: dict[str, str | None] = dict(
            conn.execute(select(_outbox.c.key, _outbox.c.provider_id)).all()
        )
    engine.dispose()
    raw = Counter(seen.posts)
    print(
        f"\n{MESSAGES} messages, {WORKERS} workers, one SIGKILLed holding {orphaned} claimed"
        f" messages after {delivered_at_kill} deliveries; {len(seen.posts)} raw POSTs,"
        f" {seen.replays} replays deduplicated by Idempotency-Key"
    )
    assert orphaned > 0, "the killed worker held no messages: the takeover was not exercised"
    assert statuses == Counter({OutboxStatus.SENT: MESSAGES}), statuses
    assert Counter(seen.delivered) == Counter(keys)  # each key delivered exactly once
    assert len(seen.posts) == MESSAGES + seen.replays
    assert set(raw) == set(keys)
    # What each row recorded is the gateway's first (and only) answer for its key.
    assert all(stored[key] == seen.answers[key]["id"] for key in keys)
    assert [p.returncode for p in workers[1:]] == [0] * (WORKERS - 1), log.read_text()[-3000:]
