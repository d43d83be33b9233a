"""Benchmark: 100,000 Web Push notifications, one per subscription, from one worker process.

    .venv/bin/python bench/push.py [--subscriptions 100000] [--batch 1000]
                                   [--concurrency 100] [--sample-every 100] [--database-url URL]

The sandbox's push service (channels/sandbox/push.py) runs in a child process on
127.0.0.1 and makes the subscriptions, as browsers would (keeping their private keys). A
fresh migrated SQLite database (``--database-url``: an existing, empty, migrated one
instead) gets one ASN with one verified account and one subscribed device per
subscription; one post is dispatched to them all, so the outbox rows are the ones
dispatch writes and push routing picks. ``deliver_due`` is then called in this process
until the outbox is empty: the real sender, over pooled connections. The push service
checks TTL, the encoding and the VAPID token of every push and decrypts every
``--sample-every``-th body; it counts pushes per subscription (a second one is a
duplicate).

The ceiling is this process encrypting the same payloads for the same subscriptions,
without sending, in the same run: ``ratio`` = rate / ceiling says how much of the cost is
sending and bookkeeping rather than the encryption every push needs. The last line printed
is one JSON object. Targets: ratio >= 0.5, delivered = notifications, duplicates 0.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from bench.seed import approved_post
from channels import webpush
from gaung.db import make_engine, set_engine, utcnow
from gaung.migrate import upgrade
from gaung.settings import get_settings
from kernel.outbox import OutboxMessage, OutboxStatus
from roster.models import Asn, AsnStatus, SocialAccount
from scheduler.clock import DELIVER_BATCH, settle_heap
from scheduler.deliver import deliver_due
from scheduler.dispatch import dispatch_post
from scheduler.push import notice_for
from wiring import wire

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_asn = Asn.__table__  # type: ignore[attr-defined]
_account = SocialAccount.__table__  # type: ignore[attr-defined]
_subscription = webpush.PushSubscription.__table__  # type: ignore[attr-defined]
UNITS = 10
CHUNK = 10_000


def _serve(port_queue: Any, sample_every: int, http2: bool) -> None:
    """The push service: its ASGI app (subscriptions, counts) and, with ``http2``, the
    HTTP/2 server taking the pushes, both on one event loop and one PushState."""
    import asyncio
    import socket

    import uvicorn

    from channels.sandbox import push_h2
    from channels.sandbox.push import PushState, create_app

    def listener() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        return sock

    state = PushState(sample_every=sample_every, keep_messages=False)
    app_socket, push_socket = listener(), listener()
    if http2:
        state.endpoint_base = f"http://127.0.0.1:{push_socket.getsockname()[1]}"
    port_queue.put(app_socket.getsockname()[1])
    config = uvicorn.Config(create_app(state), log_level="warning", access_log=False)

    async def run() -> None:
        server = uvicorn.Server(config)
        tasks = [asyncio.create_task(server.serve(sockets=[app_socket]))]
        if http2:
            tasks.append(asyncio.create_task(push_h2.serve(state, push_socket)))
        await asyncio.gather(*tasks)

    asyncio.run(run())


def _call(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=600) as answer:  # noqa: S310 - loopback
        return json.load(answer)


def _seed(engine: Engine, subscriptions: list[dict[str, Any]]) -> int:
    """One ASN with an X account and one subscribed device per subscription; the post's id."""
    seeded = approved_post(
        engine,
        unit_names=[f"Biro {n}" for n in range(UNITS)],
        master_text="Klarifikasi: kabar pemadaman listrik nasional besok tidak benar.",
        link="https://www.kominfo.go.id/berita/klarifikasi",
    )
    now = utcnow()
    with engine.connect() as conn:
        first = int(conn.execute(select(func.coalesce(func.max(_asn.c.id), 0))).scalar_one()) + 1
    for start in range(0, len(subscriptions), CHUNK):
        chunk = subscriptions[start : start + CHUNK]
        ids = range(first + start, first + start + len(chunk))
        with engine.begin() as conn:
            conn.execute(
                insert(_asn),
                [
                    {
                        "id": n,
                        "agency_id": seeded.agency_id,
                        "unit_id": seeded.unit_ids[n % UNITS],
                        "nip": f"{198001012006040000 + n}",
                        "name": f"ASN {n}",
                        "email": f"asn{n}@kominfo.go.id",
                        "messenger": "email",
                        "status": AsnStatus.ACTIVE.value,
                        "consent_at": now,
                        "consent_version": "v1",
                        "locale": "id",
                        "login_epoch": 0,
                        "created_at": now,
                    }
                    for n in ids
                ],
            )
            conn.execute(
                insert(_account),
                [
                    {
                        "asn_id": n,
                        "platform": "x",
                        "platform_user_id": f"x-{n}",
                        "handle": f"asn{n}_x",
                        "followers": 1000 + n % 5000,
                        "followers_at": now,
                        "ownership_verified_at": now,
                        "created_at": now,
                    }
                    for n in ids
                ],
            )
            conn.execute(
                insert(_subscription),
                [
                    {
                        "asn_id": n,
                        "endpoint": data["endpoint"],
                        "endpoint_hash": webpush.endpoint_hash(data["endpoint"]),
                        "origin": data["endpoint"].split("/push/")[0],
                        "p256dh": data["keys"]["p256dh"],
                        "auth": data["keys"]["auth"],
                        "label": "Chrome · Android",
                        "created_at": now,
                    }
                    for n, data in zip(ids, chunk, strict=True)
                ],
            )
    assert seeded.post_id is not None
    return seeded.post_id


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(_outbox.c.status, func.count()).group_by(_outbox.c.status))
        return {status: count for status, count in rows}


def _ceiling(engine: Engine) -> tuple[int, float]:
    """Encrypt each queued notice for its device, as the sender would, without sending."""
    with engine.connect() as conn:
        rows = conn.execute(select(_outbox).where(_outbox.c.messenger == webpush.SLUG)).all()
    targets = webpush.load_targets(engine, {row.asn_id for row in rows})
    work = [(notice_for(row, "id")[0], targets[row.asn_id]) for row in rows]
    start = time.perf_counter()
    for notice, devices in work:
        payload = notice.payload()
        for device in devices:
            webpush.encrypt(payload, device.p256dh, device.auth)
    return sum(len(devices) for _, devices in work), time.perf_counter() - start


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; 0.0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _deliver_all(engine: Engine) -> None:
    while True:
        if deliver_due(engine, "bench", limit=DELIVER_BATCH):  # as the worker's clock calls it
            continue
        counts = _counts(engine)
        if not counts.get(OutboxStatus.QUEUED) and not counts.get(OutboxStatus.SENDING):
            return
        time.sleep(0.05)  # only requeued notices left, due shortly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument(
        "--batch",
        type=int,
        default=get_settings().scheduler.batch_claim,
        help="notices claimed at once (scheduler.batch_claim)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=get_settings().webpush.concurrency,
        help="requests in flight (webpush.concurrency)",
    )
    parser.add_argument("--sample-every", type=int, default=100, help="decrypt every n-th body")
    parser.add_argument("--database-url", help="an existing, empty, migrated database instead")
    parser.add_argument(
        "--http1", action="store_true", help="push over HTTP/1.1 (the sandbox app) instead of h2"
    )
    args = parser.parse_args()
    wire()  # dispatch hooks (notices, push routing), messengers, the batch sender

    ports: Any = multiprocessing.Queue()
    service = multiprocessing.Process(
        target=_serve, args=(ports, args.sample_every, not args.http1), daemon=True
    )
    service.start()
    url = f"http://127.0.0.1:{ports.get(timeout=60)}"
    settings = get_settings()
    settings.sandbox.enabled = True
    settings.webpush.concurrency = args.concurrency
    settings.scheduler.batch_claim = args.batch
    settings.webpush.cleartext_http2 = not args.http1
    try:
        with tempfile.TemporaryDirectory(prefix="gaung-bench-") as tmp:
            engine = make_engine(args.database_url or f"sqlite:///{tmp}/push.db")
            if not args.database_url:
                upgrade(engine)
            set_engine(engine)
            print(f"subscribing {args.subscriptions:,} devices at the push service ...", flush=True)
            subscriptions: list[dict[str, Any]] = []
            while len(subscriptions) < args.subscriptions:
                count = min(CHUNK, args.subscriptions - len(subscriptions))
                subscriptions += _call(f"{url}/push/subscriptions", {"count": count})
            print("seeding ASN and dispatching one urgent post to them all ...", flush=True)
            dispatch_post(engine, _seed(engine, subscriptions))
            # The browsers' side is the push service's: a worker holds none of it, and the
            # 100,000 objects would only lengthen every full garbage collection measured below.
            del subscriptions
            settle_heap()  # what a worker does once started (scheduler.clock.run_worker)
            webpush.ensure_vapid_key(engine)
            print(f"outbox: {_counts(engine)}", flush=True)

            encrypted, ceiling_seconds = _ceiling(engine)
            ceiling = encrypted / ceiling_seconds if ceiling_seconds else 0.0
            print(f"ceiling: {encrypted:,} encrypted in {ceiling_seconds:.1f} s: {ceiling:.0f}/s")

            service_cpu = _cpu_seconds(service.pid or 0)
            worker_cpu = time.process_time()
            start = time.perf_counter()
            _deliver_all(engine)
            seconds = time.perf_counter() - start
            worker_cpu = time.process_time() - worker_cpu
            service_cpu = _cpu_seconds(service.pid or 0) - service_cpu
            counts = _counts(engine)
            set_engine(None)
            engine.dispose()
        stats = _call(f"{url}/push/stats")
    finally:
        service.terminate()
        service.join()
    delivered = counts.get(OutboxStatus.SENT, 0)
    rate = delivered / seconds if seconds else 0.0
    print(f"outbox after delivery: {counts}")
    print(f"push service: {stats}")
    print(f"{delivered:,} delivered in {seconds:.1f} s: {rate:.0f}/s")
    result = {
        "notifications": args.subscriptions,
        "delivered": delivered,
        "received": stats["received"],
        "duplicates": stats["duplicates"],
        "rejected": stats["rejected"],
        "decrypted_sample": stats["checked"],
        "seconds": round(seconds, 1),
        "rate_per_s": round(rate, 1),
        "ceiling_per_s": round(ceiling, 1),
        "ratio": round(rate / ceiling, 3) if ceiling else 0.0,
        # CPU per notification while delivering: this worker process (all its threads) and
        # the push service. On a shared machine wall time also holds waits for the CPU.
        "worker_cpu_us": round(worker_cpu / delivered * 1e6) if delivered else 0,
        "service_cpu_us": round(service_cpu / delivered * 1e6) if delivered else 0,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "http": "1.1" if args.http1 else "2",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
