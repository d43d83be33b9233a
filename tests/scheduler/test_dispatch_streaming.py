"""Streaming dispatch: chunks, resume after a crash, racing workers, withdrawal mid-way."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from assignments import reporting
from assignments.models import Assignment, AssignmentStatus, DispatchPart, DispatchPartStatus
from assignments.texts import assignment_text
from content import variants, workflow
from content.models import Campaign, Post, PostStatus, PostVariant
from content.rendering import (
    TRACKING_PLACEHOLDER,
    disclosure_tag_for,
    fill_tracking_url,
    platform_texts,
    render,
)
from kernel.models import WorkItem
from kernel.outbox import OutboxMessage
from roster.models import Agency, Asn, Role, User
from scheduler import dispatch
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user

PLATFORMS = "x,facebook,instagram"
PEOPLE = 7  # eligible ASN, each with an account on each platform: 21 assignments


def _world(session: Session) -> tuple[Agency, User, list[Asn]]:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency, Role.EDITOR)
    people = [make_asn(session, unit) for _ in range(PEOPLE)]
    make_asn(session, unit, consent=False)  # never eligible
    return agency, editor, people


def _post(session: Session, agency: Agency, editor: User) -> Post:
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    post.platforms = PLATFORMS
    session.add(post)
    session.commit()
    return post


def _rows(session: Session, post: Post) -> list[Assignment]:
    session.expire_all()
    return list(session.scalars(select(Assignment).where(col(Assignment.post_id) == post.id)))


def _notices(session: Session, post: Post) -> Counter[str]:
    keys = session.scalars(
        select(col(OutboxMessage.key)).where(col(OutboxMessage.key).like(f"post:{post.id}:asn:%"))
    )
    return Counter(keys)


def _exactly_once(session: Session, post: Post, people: Sequence[Asn]) -> None:
    rows = _rows(session, post)
    triples = Counter((a.post_id, a.asn_id, a.platform) for a in rows)
    assert len(triples) == PEOPLE * 3
    assert set(triples.values()) == {1}
    assert {a.asn_id for a in rows} == {p.id for p in people}
    notices = _notices(session, post)
    assert len(notices) == PEOPLE
    assert set(notices.values()) == {1}


@pytest.mark.parametrize("chunk", [1, 2, 6, 7, 8, 10_000])
def test_every_chunk_size_makes_the_same_assignments_and_variants(
    db: Engine, session: Session, chunk: int
) -> None:
    agency, editor, people = _world(session)
    post = _post(session, agency, editor)
    assert dispatch_post(db, post.id or 0, chunk=chunk) == PEOPLE * 3
    _exactly_once(session, post, people)
    part = session.scalars(select(DispatchPart).where(col(DispatchPart.post_id) == post.id)).one()
    assert (part.status, part.done, part.total) == (DispatchPartStatus.DONE, 21, 21)
    # One chunk per full page plus the short page ending each platform.
    assert part.chunks == 3 * (PEOPLE // chunk + 1)
    session.refresh(post)
    assert post.status == PostStatus.DISPATCHED


def test_a_crash_after_some_chunks_resumes_without_duplicates(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    agency, editor, people = _world(session)
    post = _post(session, agency, editor)
    calls = 0

    def crash_on_fourth(conn: Connection, rows: Sequence[Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:  # inside the fourth chunk's transaction, its part row taken
            raise RuntimeError("worker killed mid-chunk")

    monkeypatch.setattr(dispatch, "_insert_hook", crash_on_fourth)
    with pytest.raises(RuntimeError):
        dispatch_post(db, post.id or 0, chunk=2)
    session.refresh(post)
    assert post.status == PostStatus.APPROVED
    assert post.dispatched_at is None
    assert len(_rows(session, post)) == 6  # three chunks of two committed
    assert _notices(session, post) == Counter()
    # Mid-dispatch the ASN see nothing yet.
    assert reporting.list_for_asn(session, people[0]) == []

    monkeypatch.undo()
    assert dispatch_post(db, post.id or 0, chunk=2) == PEOPLE * 3
    _exactly_once(session, post, people)
    assert len(reporting.list_for_asn(session, people[0])) == 3
    assert dispatch_post(db, post.id or 0) == 0  # a second run changes nothing
    _exactly_once(session, post, people)


def test_two_workers_on_the_same_part_never_duplicate(db: Engine, session: Session) -> None:
    agency, editor, people = _world(session)
    post = _post(session, agency, editor)
    [part_id] = dispatch.start(db, post.id or 0)
    made: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            made.append(dispatch.run_part(db, part_id, chunk=1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(made) == PEOPLE * 3
    finished = [dispatch.finish(db, post.id or 0) for _ in range(2)]
    assert sorted(finished) == [0, PEOPLE * 3]
    _exactly_once(session, post, people)


def test_withdrawal_mid_dispatch_stops_the_parts_and_withdraws_what_was_made(
    db: Engine, session: Session
) -> None:
    agency, editor, people = _world(session)
    post = _post(session, agency, editor)
    [part_id] = dispatch.start(db, post.id or 0)
    with Session(db) as other, other.begin():
        assert dispatch._chunk(other, other.connection(), part_id, 2, {}) == 2
    approver = make_user(session, agency, Role.APPROVER)
    workflow.withdraw(session, approver, session.get_one(Post, post.id))

    assert dispatch.run_part(db, part_id, chunk=2) == 0
    assert dispatch.finish(db, post.id or 0) == 0
    rows = _rows(session, post)
    assert len(rows) == 2
    assert {a.status for a in rows} == {AssignmentStatus.WITHDRAWN}
    session.expire_all()
    part = session.get_one(DispatchPart, part_id)
    assert part.status == DispatchPartStatus.CANCELLED
    post = session.get_one(Post, post.id)
    assert post.status == PostStatus.WITHDRAWN
    assert post.dispatched_at is None
    assert _notices(session, post) == Counter()
    assert all(reporting.list_for_asn(session, p) == [] for p in people)


def test_a_part_with_no_eligible_asn_is_done_and_the_post_dispatched(
    db: Engine, session: Session
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    make_asn(session, make_unit(session, agency), consent=False)
    post = _post(session, agency, editor)
    assert dispatch_post(db, post.id or 0, chunk=1) == 0
    progress = dispatch.progress(session, post.id or 0)
    assert progress == dispatch.Progress(parts=1, parts_done=1, done=0, total=0, cancelled=False)
    session.refresh(post)
    assert post.status == PostStatus.DISPATCHED


def test_the_jobs_queue_one_part_each_and_the_last_part_finishes_the_post(
    db: Engine, session: Session
) -> None:
    agency, editor, people = _world(session)
    post = _post(session, agency, editor)
    dispatch.dispatch_job(db, {"post_id": post.id})
    items = session.scalars(select(WorkItem).where(col(WorkItem.kind) == dispatch.PART_JOB)).all()
    assert len(items) == 1
    session.refresh(post)
    assert post.status == PostStatus.APPROVED  # nothing made yet
    progress = dispatch.progress(session, post.id or 0)
    assert progress is not None
    assert (progress.done, progress.total) == (0, PEOPLE * 3)

    dispatch.dispatch_part_job(db, json.loads(items[0].payload))
    _exactly_once(session, post, people)
    session.refresh(post)
    assert post.status == PostStatus.DISPATCHED
    dispatch.dispatch_part_job(db, json.loads(items[0].payload))  # run twice: nothing more
    _exactly_once(session, post, people)


def test_the_text_read_is_what_the_dispatcher_used_to_store(db: Engine, session: Session) -> None:
    """Every platform and variant: assignments.texts renders exactly the old stored text
    (the rendition with the placeholder, the personal URL put in)."""
    agency, editor, _ = _world(session)
    post = _post(session, agency, editor)
    post.master_text = "Baris satu\n\nBaris dua\tdengan tab \\ dan garis miring."
    session.add(post)
    own = {
        ("x", 0): "Teks X sendiri.",
        ("x", 1): "Alternatif X satu.",
        ("facebook", 2): "Alternatif Facebook\nkedua.",
        ("instagram", 1): "Keterangan Instagram.",
    }
    session.add_all(
        PostVariant(post_id=post.id or 0, platform=p, position=n, text=t)
        for (p, n), t in own.items()
    )
    session.commit()
    dispatch_post(db, post.id or 0, chunk=3)
    campaign = session.get_one(Campaign, post.campaign_id)
    stored = variants.load(session, post.id)
    seen = set()
    for a in _rows(session, post):
        texts = dict(platform_texts(post, a.platform, stored))
        old = render(
            post,
            a.platform,
            kind=campaign.kind,
            disclosure_tag=disclosure_tag_for(agency),
            tracking_url=TRACKING_PLACEHOLDER,
            text=texts[a.variant],
        )
        expected = fill_tracking_url(old, f"http://testserver/r/{a.code}")
        assert assignment_text(session, a) == expected
        seen.add((a.platform, a.variant))
    assert seen == {("x", 0), ("x", 1), ("facebook", 0), ("facebook", 2)} | {
        ("instagram", 0),
        ("instagram", 1),
    }
