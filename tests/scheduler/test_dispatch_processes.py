"""Streaming dispatch against real worker processes: one killed (SIGKILL) in the middle of a
chunk, after its rows went in but before its commit, and two racing on the same part."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment, DispatchPart, DispatchPartStatus
from content.models import Post, PostStatus
from scheduler import dispatch
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user

PEOPLE = 9  # x and facebook each: 18 assignments, 9 chunks of 2

# A worker: run one part in chunks of 2; with "kill", die by SIGKILL right after the rows of
# the third chunk went in and before that chunk's transaction commits.
WORKER = """
import os, signal, sys
from gaung.db import make_engine
from scheduler import dispatch
url, part_id, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
chunks = 0
def after_rows(original):
    def run(*args, **kwargs):
        global chunks
        original(*args, **kwargs)
        chunks += 1
        if mode == "kill" and chunks == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    return run
dispatch._insert = after_rows(dispatch._insert)
dispatch._copy = after_rows(dispatch._copy)
print(dispatch.run_part(make_engine(url), part_id, chunk=2))
"""


def _approved_post(session: Session) -> Post:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    for _ in range(PEOPLE):
        make_asn(session, unit, platforms=["x", "facebook"])
    post = make_post(session, make_campaign(session, agency, editor), editor)
    post.status, post.platforms = PostStatus.APPROVED, "x,facebook"
    session.add(post)
    session.commit()
    return post


def _worker(url: str, part_id: int, mode: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", WORKER, url, str(part_id), mode]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _made(session: Session, post: Post) -> Counter[tuple[int | None, str]]:
    session.expire_all()
    rows = session.exec(select(Assignment).where(col(Assignment.post_id) == post.id)).all()
    return Counter((a.asn_id, a.platform) for a in rows)


def test_a_worker_killed_mid_chunk_loses_that_chunk_only_and_the_rerun_completes(
    db: Engine, db_url: str, session: Session
) -> None:
    post = _approved_post(session)
    [part_id] = dispatch.start(db, post.id or 0)
    killed = _worker(db_url, part_id, "kill")
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    session.expire_all()
    part = session.get_one(DispatchPart, part_id)
    assert (part.status, part.done, part.chunks) == (DispatchPartStatus.RUNNING, 4, 2)
    assert sum(_made(session, post).values()) == 4  # the killed chunk's rows rolled back
    assert session.get_one(Post, post.id).status == PostStatus.APPROVED  # nothing announced
    rerun = _worker(db_url, part_id, "run")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert int(out) == 2 * PEOPLE - 4
    assert dispatch.finish(db, post.id or 0) == 2 * PEOPLE
    made = _made(session, post)
    assert len(made) == 2 * PEOPLE
    assert set(made.values()) == {1}


def test_two_worker_processes_on_the_same_part_make_each_assignment_once(
    db: Engine, db_url: str, session: Session
) -> None:
    post = _approved_post(session)
    [part_id] = dispatch.start(db, post.id or 0)
    workers = [_worker(db_url, part_id, "run") for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err for _out, err in outputs]
    assert sum(int(out) for out, _err in outputs) == 2 * PEOPLE  # they shared the chunks
    assert dispatch.finish(db, post.id or 0) == 2 * PEOPLE
    made = _made(session, post)
    assert len(made) == 2 * PEOPLE
    assert set(made.values()) == {1}
