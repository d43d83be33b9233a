"""Benchmark: 20,000 assignment notices through the outbox to a local fake Telegram.

    .venv/bin/python bench/deliver.py [--messages 20000] [--limit 200] [--workers 1]

Seeds a fresh migrated SQLite database with one Telegram ASN per message and
dispatches one post to them all (so the outbox rows are the ones dispatch writes).
A fake Bot API runs in a child process on 127.0.0.1: it counts messages per chat
id (every ASN has its own, so a second message to a chat is a duplicate) and
answers 429 with ``retry_after`` when sent more than ``--limit`` per second (a
token bucket with one second of burst). ``deliver_due`` is then called until every
message is out; the achieved rate is delivered messages over that wall time.
With ``--workers N`` that many delivery loops (threads with their own worker ids
and connections) share the outbox: the rate limit is the cluster's (a shared
window in the database), so together they must stay under it (``throttled``
counts the fake's 429s).
The last line printed is one JSON object. Targets: ratio >= 0.9, duplicates 0.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from bench.dispatch import _seed
from gaung.db import make_engine, set_engine
from gaung.migrate import upgrade
from gaung.settings import TelegramSettings, get_settings
from kernel.outbox import OutboxMessage, OutboxStatus
from scheduler.deliver import deliver_due
from scheduler.dispatch import dispatch_post

TOKEN = "123:bench"  # noqa: S105 - a fake bot's token
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


class _FakeTelegram(BaseHTTPRequestHandler):
    """sendMessage with a per-second limit; GET /stats reports what it received."""

    received: Counter[str]
    lock: threading.Lock
    limit: float
    tokens: float
    updated: float
    throttled = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _allowed(self) -> bool:
        cls = type(self)
        with cls.lock:
            now = time.monotonic()
            cls.tokens = min(cls.limit, cls.tokens + (now - cls.updated) * cls.limit)
            cls.updated = now
            if cls.tokens < 1:
                cls.throttled += 1
                return False
            cls.tokens -= 1
            return True

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self._allowed():
            retry = {"retry_after": 1}
            self._answer(429, {"ok": False, "error_code": 429, "parameters": retry})
            return
        cls = type(self)
        with cls.lock:
            cls.received[str(body["chat_id"])] += 1
            message_id = sum(cls.received.values())
        self._answer(200, {"ok": True, "result": {"message_id": message_id}})

    def do_GET(self) -> None:
        cls = type(self)
        with cls.lock:
            counts = list(cls.received.values())
        self._answer(
            200,
            {
                "messages": sum(counts),
                "chats": len(counts),
                "duplicates": sum(n - 1 for n in counts),
                "throttled": cls.throttled,
            },
        )


def _serve(port_queue: Any, limit: float) -> None:
    handler = _FakeTelegram
    handler.received = Counter()
    handler.lock = threading.Lock()
    handler.limit = limit
    handler.tokens = limit
    handler.updated = time.monotonic()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def _stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as answer:
        data: dict[str, Any] = json.load(answer)
        return data


def _to_telegram(engine: Engine) -> None:
    """Every seeded ASN reads Telegram, in a chat of their own."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE asn SET messenger = 'telegram', telegram_chat_id = id"))


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(_outbox.c.status, func.count()).group_by(_outbox.c.status))
        return {status: count for status, count in rows}


def _deliver_all(engine: Engine, worker: str = "bench") -> None:
    while True:
        if deliver_due(engine, worker, limit=400):
            continue
        counts = _counts(engine)
        if not counts.get(OutboxStatus.QUEUED) and not counts.get(OutboxStatus.SENDING):
            return
        time.sleep(0.05)  # only 429-requeued messages left, due shortly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--limit", type=float, default=200.0, help="messages per second")
    parser.add_argument("--workers", type=int, default=1, help="delivery loops sharing it")
    args = parser.parse_args()

    ports: Any = multiprocessing.Queue()
    fake = multiprocessing.Process(target=_serve, args=(ports, args.limit), daemon=True)
    fake.start()
    port = ports.get(timeout=30)
    settings = get_settings()
    settings.telegram = TelegramSettings(bot_token=TOKEN, api_base_url=f"http://127.0.0.1:{port}")
    settings.rate_limits["telegram"] = args.limit
    try:
        with tempfile.TemporaryDirectory(prefix="gaung-bench-") as tmp:
            engine = make_engine(f"sqlite:///{tmp}/deliver.db")
            upgrade(engine)
            set_engine(engine)  # what reads through get_engine() (stored credentials) too
            print(f"seeding {args.messages:,} Telegram ASN and dispatching ...", flush=True)
            post_id = _seed(engine, args.messages)
            _to_telegram(engine)
            dispatch_post(engine, post_id)
            print(f"outbox: {_counts(engine)}", flush=True)
            start = time.perf_counter()
            loops = [
                threading.Thread(target=_deliver_all, args=(engine, f"bench-{n}"))
                for n in range(args.workers)
            ]
            for loop in loops:
                loop.start()
            for loop in loops:
                loop.join()
            seconds = time.perf_counter() - start
            counts = _counts(engine)
            set_engine(None)
            engine.dispose()
        stats = _stats(port)
    finally:
        fake.terminate()
        fake.join()
    delivered = counts.get(OutboxStatus.SENT, 0)
    rate = delivered / seconds
    print(f"outbox after delivery: {counts}")
    print(f"fake Telegram: {stats}")
    print(f"{delivered:,} delivered in {seconds:.1f} s: {rate:.1f}/s (limit {args.limit:g}/s)")
    result = {
        "messages": args.messages,
        "workers": args.workers,
        "delivered": delivered,
        "rate_per_s": round(rate, 1),
        "limit_per_s": args.limit,
        "ratio": round(rate / args.limit, 3),
        "duplicates": stats["duplicates"],
        "throttled": stats["throttled"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
