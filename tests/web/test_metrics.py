"""GET /metrics: request counts by route template, redirects and clicks, queue gauges read
from the database on each scrape, an optional bearer token; and `gaung serve --workers 2`
adding up its processes and writing every buffered click when stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from assignments.models import Assignment, Click
from content.models import PostStatus
from gaung.db import utcnow
from gaung.settings import PROJECT_ROOT, get_settings
from kernel import queue
from kernel.outbox import OutboxMessage, OutboxStatus
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

WAIT_SECONDS = 60  # upper bound for a loaded machine; not a timing assertion


PHONE = "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 Chrome/131.0 Mobile"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, from the Prometheus text format."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def _assignment(session: Session) -> Assignment:
    agency = make_agency(session)
    author = make_user(session, agency)
    post = make_post(
        session,
        make_campaign(session, agency),
        author,
        status=PostStatus.DISPATCHED,
        link="https://www.kominfo.go.id/berita/umkm-digital",
    )
    return make_assignment(session, post, make_asn(session, make_unit(session, agency)))


def test_requests_are_counted_by_route_template_never_by_raw_path(
    client: TestClient, session: Session
) -> None:
    assignment = _assignment(session)
    before = client.get("/metrics").text

    for _ in range(3):
        client.get(f"/r/{assignment.code}", follow_redirects=False)
    client.get("/no/such/page")
    after = client.get("/metrics")

    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    route = {"method": "GET", "route": "/r/{code}", "status": "302"}
    count = "gaung_http_requests_total"
    assert _value(text, count, **route) - _value(before, count, **route) == 3
    unmatched = {"method": "GET", "route": "(unmatched)", "status": "404"}
    assert _value(text, count, **unmatched) - _value(before, count, **unmatched) == 1
    assert _value(text, "gaung_redirects_total") - _value(before, "gaung_redirects_total") == 3
    clicks = "gaung_clicks_buffered_total"
    assert _value(text, clicks) - _value(before, clicks) == 3
    assert assignment.code not in text
    assert "/no/such/page" not in text
    latency = "gaung_http_request_duration_seconds_count"
    assert _value(text, latency, method="GET", route="(unmatched)") >= 1
    # Redirects are answered before the timing middleware: counted above, never timed.
    timed = {"method": "GET", "route": "/r/{code}"}
    assert _value(text, latency, **timed) == _value(before, latency, **timed)


def test_queue_gauges_are_read_from_the_database_at_scrape_time(
    client: TestClient, session: Session
) -> None:
    now = utcnow()
    for n in range(2):
        queue.enqueue(session, kind="dispatch", key=f"d{n}", payload={}, run_at=now)
    queue.enqueue(session, kind="verify_post", key="v", payload={}, run_at=now)
    session.commit()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    queue.claim(engine, worker="w", kinds=["verify_post"])
    asn = make_asn(session, make_unit(session, make_agency(session)))
    for n, status in enumerate(
        [OutboxStatus.QUEUED, OutboxStatus.QUEUED, OutboxStatus.UNKNOWN, OutboxStatus.SENT]
    ):
        session.add(
            OutboxMessage(
                key=f"m{n}",
                asn_id=asn.id or 0,
                messenger="telegram",
                subject="s",
                text="t",
                status=status,
                run_at=now - timedelta(minutes=5),
            )
        )
    session.commit()

    text = client.get("/metrics").text

    assert _value(text, "gaung_work_items", kind="dispatch", status="queued") == 2
    assert _value(text, "gaung_work_items", kind="verify_post", status="running") == 1
    assert _value(text, "gaung_outbox_messages", messenger="telegram", status="queued") == 2
    assert _value(text, "gaung_outbox_messages", messenger="telegram", status="unknown") == 1
    # Sent messages grow without bound: not counted on scrape (their rate is a counter's job).
    assert ("gaung_outbox_messages", (("messenger", "telegram"), ("status", "sent"))) not in (
        _samples(text)
    )
    assert _value(text, "gaung_queue_oldest_due_seconds", queue="outbox") >= 5 * 60


def test_with_a_token_a_scrape_needs_it(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().metrics, "token", "scrape-secret")

    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert right.status_code == 200
    assert "gaung_http_requests_total" in right.text


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=8, max_size=30))
def test_unknown_paths_never_become_labels(client: TestClient, path: str) -> None:
    client.get(f"/zz-{path}")
    assert f"zz-{path}" not in client.get("/metrics").text


# --- gaung serve --workers 2 -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert proc.poll() is None, "gaung serve exited early"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.mark.slow
def test_serve_with_two_workers_adds_up_metrics_and_stores_every_click_on_sigterm(
    db: Engine, db_url: str, session: Session, tmp_path: Path
) -> None:
    assignment = _assignment(session)
    port = _free_port()
    gaung = Path(sys.executable).with_name("gaung")
    env = {
        **os.environ,
        "GAUNG_DATABASE_URL": db_url,
        "GAUNG_MEDIA_DIR": str(tmp_path / "media"),
        "GAUNG_LOG_FORMAT": "json",
        # A long flush interval: the clicks can only reach the table on shutdown.
        "GAUNG_TRACKING__FLUSH_SECONDS": "3600",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [str(gaung), "serve", "--no-scheduler", "--workers", "2", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/healthz", proc)
        with httpx.Client(base_url=base) as web:  # new connections: both workers answer
            # A phone's browser: httpx's own user agent is, rightly, taken for a bot.
            close = {"Connection": "close", "User-Agent": PHONE}
            for _ in range(40):
                assert web.get(f"/r/{assignment.code}", headers=close).status_code == 302
            # Each process adds its tallies to the shared counters within about a second.
            deadline = time.monotonic() + WAIT_SECONDS
            while True:
                text = web.get("/metrics").text
                if _value(text, "gaung_redirects_total") >= 40 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        assert session.exec(select(func.count()).select_from(Click)).one() == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=WAIT_SECONDS)

    assert proc.returncode == 0, log.read_text()[-3000:]
    assert _value(text, "gaung_redirects_total") == 40  # summed over both processes
    assert session.exec(select(func.count()).select_from(Click)).one() == 40
