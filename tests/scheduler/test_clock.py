"""The clock: a background scheduler in `gaung serve` and a foreground worker process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from content.models import Post, PostStatus
from content.schedule import schedule_dispatch
from gaung.settings import PROJECT_ROOT
from kernel.models import WorkItem, WorkStatus
from roster.models import Role
from scheduler.clock import _Database, _Job, start_background, worker_id
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user

WAIT_SECONDS = 60  # generous upper bound for a loaded CI machine; not a timing assertion


def _queued_dispatch(session: Session) -> tuple[Post, WorkItem]:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    make_asn(session, make_unit(session, agency))
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    item = schedule_dispatch(session, post)
    session.commit()
    return post, item


def _wait_until_done(db: Engine, item: WorkItem) -> WorkItem:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with Session(db) as s:
            row = s.get_one(WorkItem, item.id)
        if row.status == WorkStatus.DONE or time.monotonic() > deadline:
            return row
        time.sleep(0.1)


def test_worker_id_names_host_and_process() -> None:
    host, pid = worker_id().rsplit(":", 1)
    assert host
    assert int(pid) == os.getpid()


def test_background_scheduler_runs_due_work(db: Engine, session: Session) -> None:
    post, item = _queued_dispatch(session)
    scheduler = start_background(db)
    try:
        row = _wait_until_done(db, item)
    finally:
        scheduler.shutdown(wait=True)
    assert row.status == WorkStatus.DONE
    assert row.worker == worker_id()
    session.refresh(post)
    assert post.status == PostStatus.DISPATCHED


def test_worker_process_runs_due_work_and_stops_on_sigterm(
    db: Engine, db_url: str, session: Session
) -> None:
    post, item = _queued_dispatch(session)
    env = {**os.environ, "GAUNG_DATABASE_URL": db_url}
    gaung = Path(sys.executable).with_name("gaung")  # the console script, as an operator runs it
    proc = subprocess.Popen([str(gaung), "worker"], cwd=PROJECT_ROOT, env=env)
    try:
        row = _wait_until_done(db, item)
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(timeout=WAIT_SECONDS)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert row.status == WorkStatus.DONE
    assert row.worker == f"{worker_id().rsplit(':', 1)[0]}:{proc.pid}"
    assert returncode == 0
    session.refresh(post)
    assert post.status == PostStatus.DISPATCHED


def test_an_unreachable_database_is_one_line_and_a_longer_wait_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unreachable = OperationalError("SELECT 1", {}, Exception("connection refused\ndetails"))
    calls: list[str] = []

    def body() -> bool:
        calls.append("tried")
        raise unreachable

    database = _Database()
    job = _Job("outbox", body, database, threading.Event())
    with caplog.at_level(logging.WARNING, logger="scheduler.clock"):
        job()
        job()  # within the wait: not tried again
    assert calls == ["tried"]
    (record,) = caplog.records
    assert record.getMessage() == (
        "outbox: database unreachable (connection refused); trying again in 2 s"
    )
    assert record.exc_info is None  # no traceback
    first_wait = database.resume_at
    database.resume_at = 0.0
    job()
    assert database.resume_at - first_wait > 1.5  # 4 s after the second failure
    database.succeeded()
    assert database.ready()
    assert database.failures == 0
