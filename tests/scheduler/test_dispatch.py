"""Dispatch: one assignment per eligible ASN per platform, all or nothing, exactly once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from assignments.models import Assignment, AssignmentStatus
from assignments.texts import assignment_text
from content.models import Campaign, Post, PostStatus, PostVariant
from content.rendering import TRACKING_PLACEHOLDER
from gaung.errors import GaungError
from kernel.audit import AuditLog
from roster.models import Agency, Asn, AsnStatus, Role, Unit, User
from scheduler import dispatch
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user

Hooks = list[Callable[[Connection, int], None]]


@dataclass
class World:
    agency: Agency
    unit_a: Unit
    unit_b: Unit
    editor: User
    asn_a: Asn
    asn_b: Asn


@pytest.fixture
def world(session: Session) -> World:
    agency = make_agency(session)
    unit_a, unit_b = make_unit(session, agency), make_unit(session, agency)
    editor = make_user(session, agency, Role.EDITOR)
    asn_a = make_asn(session, unit_a)
    asn_b = make_asn(session, unit_b)
    # Never eligible: too few followers, no consent, suspended, left, another agency.
    make_asn(session, unit_a, followers=499)
    make_asn(session, unit_a, consent=False)
    make_asn(session, unit_b, status=AsnStatus.SUSPENDED)
    make_asn(session, unit_b, status=AsnStatus.LEFT)
    make_asn(session, make_unit(session, make_agency(session)))
    return World(agency, unit_a, unit_b, editor, asn_a, asn_b)


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    saved = list(dispatch.after_assignments)
    yield dispatch.after_assignments
    dispatch.after_assignments[:] = saved


def _approved_post(session: Session, world: World, *, units: tuple[Unit, ...] = ()) -> Post:
    campaign = make_campaign(session, world.agency, world.editor, units=units)
    return make_post(session, campaign, world.editor, status=PostStatus.APPROVED)


def _assignments(session: Session, post: Post) -> list[Assignment]:
    session.expire_all()
    return list(session.scalars(select(Assignment).where(col(Assignment.post_id) == post.id)))


def test_one_assignment_per_eligible_asn_per_platform(
    db: Engine, session: Session, world: World
) -> None:
    post = _approved_post(session, world)
    assert post.id is not None

    created = dispatch_post(db, post.id)

    rows = _assignments(session, post)
    assert created == len(rows) == 6
    assert {(a.asn_id, a.platform) for a in rows} == {
        (asn.id, p) for asn in (world.asn_a, world.asn_b) for p in ("x", "facebook", "instagram")
    }
    campaign = session.get_one(Campaign, post.campaign_id)
    for a in rows:
        assert len(a.code) == 12
        text = assignment_text(session, a)
        assert f"http://testserver/r/{a.code}" in text
        assert TRACKING_PLACEHOLDER not in text
        assert post.master_text in text
        assert a.status == AssignmentStatus.PENDING
        assert a.deadline == campaign.deadline
        assert a.campaign_id == post.campaign_id
        assert a.unit_id == (world.unit_a.id if a.asn_id == world.asn_a.id else world.unit_b.id)
    assert len({a.code for a in rows}) == len(rows)

    session.refresh(post)
    assert post.status == PostStatus.DISPATCHED
    assert post.dispatched_at is not None
    entry = session.scalars(select(AuditLog).where(col(AuditLog.action) == "post.dispatched")).one()
    assert (entry.entity, entry.entity_id, entry.agency_id) == ("post", post.id, world.agency.id)
    assert json.loads(entry.detail) == {
        "assignments": 6,
        "platforms": {"x": 2, "facebook": 2, "instagram": 2},
    }


def test_campaign_units_limit_who_gets_assignments(
    db: Engine, session: Session, world: World
) -> None:
    post = _approved_post(session, world, units=(world.unit_b,))
    dispatch_post(db, post.id or 0)
    assert {a.asn_id for a in _assignments(session, post)} == {world.asn_b.id}


def test_only_the_posts_platforms_are_dispatched(
    db: Engine, session: Session, world: World
) -> None:
    post = _approved_post(session, world)
    post.platforms = "facebook"
    session.add(post)
    session.commit()
    assert dispatch_post(db, post.id or 0) == 2
    assert {a.platform for a in _assignments(session, post)} == {"facebook"}


def test_second_dispatch_creates_nothing(db: Engine, session: Session, world: World) -> None:
    post = _approved_post(session, world)
    first = dispatch_post(db, post.id or 0)
    codes = {a.code for a in _assignments(session, post)}
    assert dispatch_post(db, post.id or 0) == 0
    assert first == 6
    assert {a.code for a in _assignments(session, post)} == codes


def test_a_failing_post_hook_leaves_the_post_approved_and_the_retry_adds_nothing(
    db: Engine,
    session: Session,
    world: World,
    hooks: Hooks,
) -> None:
    post = _approved_post(session, world)
    seen: list[int] = []

    def count_then_crash(conn: Connection, post_id: int) -> None:
        # Runs inside the dispatch transaction: the rows are visible here, then rolled back.
        query = text("SELECT count(*) FROM assignment WHERE post_id = :p")
        seen.append(conn.scalar(query, {"p": post_id}))
        raise RuntimeError("outbox write failed")

    hooks.append(count_then_crash)
    with pytest.raises(RuntimeError):
        dispatch_post(db, post.id or 0)

    assert seen == [6]
    # The chunks stay (committed), but the post is not dispatched and nothing is announced.
    codes = {a.code for a in _assignments(session, post)}
    assert len(codes) == 6
    session.refresh(post)
    assert post.status == PostStatus.APPROVED
    assert post.dispatched_at is None
    assert session.scalar(select(func.count()).select_from(AuditLog)) == 0

    hooks.clear()  # the retry only finishes: same assignments, no new ones
    assert dispatch_post(db, post.id or 0) == 6
    assert {a.code for a in _assignments(session, post)} == codes


def test_hooks_receive_the_post_inside_the_transaction(
    db: Engine,
    session: Session,
    world: World,
    hooks: Hooks,
) -> None:
    post = _approved_post(session, world)
    calls: list[int] = []
    hooks.append(lambda conn, post_id: calls.append(post_id))
    dispatch_post(db, post.id or 0)
    dispatch_post(db, post.id or 0)
    assert calls == [post.id]


@pytest.mark.parametrize("status", [PostStatus.DRAFT, PostStatus.SUBMITTED, PostStatus.REJECTED])
def test_a_post_that_is_not_approved_is_refused(
    db: Engine, session: Session, world: World, status: str
) -> None:
    post = _approved_post(session, world)
    post.status = status
    session.add(post)
    session.commit()
    with pytest.raises(GaungError) as caught:
        dispatch_post(db, post.id or 0)
    assert caught.value.message == "Only an approved post can be dispatched."
    assert _assignments(session, post) == []


def test_a_missing_post_is_not_found(db: Engine) -> None:
    with pytest.raises(GaungError, match="Post not found"):
        dispatch_post(db, 424242)


def test_no_eligible_asn_still_marks_the_post_dispatched(db: Engine, session: Session) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    make_asn(session, make_unit(session, agency), followers=10)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    assert dispatch_post(db, post.id or 0) == 0
    session.refresh(post)
    assert post.status == PostStatus.DISPATCHED


def _with_variants(session: Session, world: World, extra_asn: int) -> Post:
    """An approved post with X: own text + 2 alternatives, Facebook: 1 alternative."""
    for _ in range(extra_asn):
        make_asn(session, world.unit_a)
    post = _approved_post(session, world)
    assert post.id is not None
    texts = {("x", 0): "Teks X sendiri.", ("x", 1): "Alternatif X satu.", ("x", 2): "Alt X dua."}
    texts[("facebook", 1)] = "Alternatif Facebook."
    session.add_all(
        PostVariant(post_id=post.id, platform=p, position=n, text=t) for (p, n), t in texts.items()
    )
    session.commit()
    return post


def test_variants_are_spread_evenly_and_each_text_is_the_variants_rendition(
    db: Engine, session: Session, world: World
) -> None:
    post = _with_variants(session, world, extra_asn=23)  # 25 eligible ASN
    dispatch_post(db, post.id or 0)
    rows = _assignments(session, post)
    counts: dict[tuple[str, int], int] = {}
    for a in rows:
        counts[(a.platform, a.variant)] = counts.get((a.platform, a.variant), 0) + 1
    assert counts == {
        ("x", 0): 9,
        ("x", 1): 8,
        ("x", 2): 8,
        ("facebook", 0): 13,
        ("facebook", 1): 12,
        ("instagram", 0): 25,
    }
    expected = {
        ("x", 0): "Teks X sendiri.",
        ("x", 1): "Alternatif X satu.",
        ("x", 2): "Alt X dua.",
        ("facebook", 0): post.master_text,
        ("facebook", 1): "Alternatif Facebook.",
        ("instagram", 0): post.master_text,
    }
    for a in rows:
        text = assignment_text(session, a)
        assert text.startswith(expected[(a.platform, a.variant)])
        # every variant keeps the personal tracking link and the campaign hashtag
        assert f"http://testserver/r/{a.code}" in text
        assert "#UMKMGoDigital" in text


@pytest.mark.parametrize("extra_asn", [0, 1, 7, 40])
def test_variant_counts_differ_by_at_most_one(
    db: Engine, session: Session, world: World, extra_asn: int
) -> None:
    post = _with_variants(session, world, extra_asn=extra_asn)
    dispatch_post(db, post.id or 0)
    rows = _assignments(session, post)
    for platform, texts in (("x", 3), ("facebook", 2)):
        per = [
            sum(1 for a in rows if a.platform == platform and a.variant == n) for n in range(texts)
        ]
        assert sum(per) == 2 + extra_asn
        assert max(per) - min(per) <= 1


def test_the_same_asn_gets_the_same_variant(db: Engine, session: Session, world: World) -> None:
    first = _with_variants(session, world, extra_asn=10)
    dispatch_post(db, first.id or 0)
    assert dispatch_post(db, first.id or 0) == 0  # a second run changes nothing
    before = {(a.asn_id, a.platform): a.variant for a in _assignments(session, first)}
    # Deterministic: the same eligible ASN get the same positions on every run.
    second = _with_variants(session, world, extra_asn=0)
    dispatch_post(db, second.id or 0)
    after = {(a.asn_id, a.platform): a.variant for a in _assignments(session, second)}
    assert after == before
    assert len(set(before.values())) == 3
