"""The live roll-ups equal a recount from the raw rows after any mix of events, on both DBs."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments import evidence, privacy, reporting, rollup
from assignments.evidence import Outcome
from assignments.models import Assignment, AssignmentStatus, Click
from assignments.reach import ReachFigures, campaign_reach
from assignments.tracking import ClickRow, Target, _insert_clicks
from content.models import Post
from gaung.db import utcnow
from roster.models import Asn
from scheduler import expiry, withdrawal
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

PLATFORMS = ("x", "instagram", "facebook")


class World:
    """Two campaigns, three units, a dozen ASN; events applied through the real code paths."""

    def __init__(self, session: Session, engine: Engine, rng: random.Random) -> None:
        self.session, self.engine, self.rng = session, engine, rng
        agency = make_agency(session)
        units = [make_unit(session, agency) for _ in range(3)]
        self.people = [make_asn(session, units[n % 3], followers=100 * (n + 1)) for n in range(12)]
        author = make_user(session, agency)
        campaigns = [make_campaign(session, agency) for _ in range(2)]
        self.posts = [make_post(session, campaigns[n % 2], author) for n in range(3)]
        self.links = 0

    def assignments(self, *statuses: str) -> list[Assignment]:
        query = select(Assignment).where(col(Assignment.status).in_(statuses))
        return list(self.session.exec(query.order_by(col(Assignment.id))))

    def pick(self, *statuses: str) -> Assignment | None:
        found = self.assignments(*statuses)
        return self.rng.choice(found) if found else None

    def dispatch(self) -> None:
        post = self.rng.choice(self.posts)
        for asn in self.rng.sample(self.people, 4):
            for platform in PLATFORMS:
                taken = select(Assignment.id).where(
                    Assignment.post_id == post.id,
                    Assignment.asn_id == asn.id,
                    Assignment.platform == platform,
                )
                if self.session.exec(taken).first() is None and asn.id is not None:
                    make_assignment(self.session, post, asn, platform)

    def report(self) -> None:
        found = [a for a in self.assignments(*reporting._REPORTABLE) if a.asn_id is not None]
        if not found:
            return
        assignment = self.rng.choice(found)
        asn = self.session.get_one(Asn, assignment.asn_id)
        self.links += 1
        url = {
            "x": f"https://x.com/i/web/status/{self.links}",
            "instagram": f"https://www.instagram.com/p/C7abc{self.links:06d}/",
            "facebook": f"https://www.facebook.com/permalink.php?story_fbid={self.links}&id=1",
        }[assignment.platform]
        reporting.report_repost(self.session, asn, assignment.id or 0, url)

    def decline(self) -> None:
        found = [a for a in self.assignments(*reporting._DECLINABLE) if a.asn_id is not None]
        if found:
            assignment = self.rng.choice(found)
            asn = self.session.get_one(Asn, assignment.asn_id)
            reporting.decline(self.session, asn, assignment.id or 0, "Sedang cuti")

    def evidence(self, outcome: str) -> None:
        assignment = self.pick(
            AssignmentStatus.PENDING,
            AssignmentStatus.REPORTED,
            AssignmentStatus.REJECTED,
            AssignmentStatus.VERIFIED,
        )
        if assignment is not None:
            evidence.record(self.session, assignment, check="x_lookup", outcome=outcome)
            self.session.commit()

    def expire(self) -> None:
        assignment = self.pick(AssignmentStatus.PENDING)
        if assignment is not None:
            assignment.deadline = utcnow() - timedelta(days=3)
            self.session.add(assignment)
            self.session.commit()
            expiry.sweep(self.engine)

    def withdraw(self) -> None:
        post = self.rng.choice(self.posts)
        withdrawal.on_withdrawal(self.session, post.id or 0)
        self.session.commit()

    def click(self) -> None:
        found = self.assignments(*(s.value for s in AssignmentStatus))
        if found:
            batch: list[ClickRow] = [
                (Target("https://example.go.id", a.id or 0, a.campaign_id), 1.7e9, "x", None)
                for a in self.rng.choices(found, k=self.rng.randint(1, 5))
            ]
            _insert_clicks(self.engine, batch, {})

    def erase(self) -> None:
        asn = self.rng.choice(self.people)
        privacy.erase_personal_data(self.session, asn)
        self.session.commit()

    def step(self) -> str:
        name = self.rng.choice(
            ["dispatch", "dispatch", "report", "report", "decline", "verified", "rejected",
             "gone", "unverifiable", "expire", "withdraw", "click", "click", "erase"]
        )  # fmt: skip
        if name in {o.value for o in Outcome}:
            self.evidence(name)
        else:
            getattr(self, name)()
        self.session.expire_all()
        return name


@pytest.mark.parametrize("seed", range(6))
def test_rollups_equal_a_recount_after_any_mix_of_events(
    session: Session, db: Engine, seed: int
) -> None:
    rng = random.Random(seed)
    world = World(session, db, rng)
    done = []
    for _ in range(45):
        done.append(world.step())
        assert rollup.differences(session) == [], done

    assert set(done) >= {"dispatch", "report", "click"}
    for post in {p.campaign_id for p in world.posts}:
        live = rollup.live_figures(session, post).total
        exact = campaign_reach(session, post).total
        for name in rollup.COUNTERS:
            assert getattr(live, name) == getattr(exact, name), name


@pytest.fixture
def one(session: Session) -> tuple[Assignment, Asn]:
    agency = make_agency(session)
    asn = make_asn(session, make_unit(session, agency), followers=700)
    post = make_post(session, make_campaign(session, agency), make_user(session, agency))
    return make_assignment(session, post, asn, "instagram"), asn


def totals(session: Session, assignment: Assignment) -> ReachFigures:
    return rollup.live_figures(session, assignment.campaign_id).total


def test_dispatch_report_and_verification_move_the_counters(
    session: Session, one: tuple[Assignment, Asn]
) -> None:
    assignment, asn = one
    assert (totals(session, assignment).assignments, totals(session, assignment).reported) == (1, 0)

    reporting.report_repost(session, asn, assignment.id or 0, "https://instagram.com/p/C7abc1/")
    figures = totals(session, assignment)
    assert (figures.reported, figures.potential_reach, figures.checkable) == (1, 700, 1)

    evidence.record(session, assignment, check="instagram_graph", outcome=Outcome.UNVERIFIABLE)
    session.commit()
    figures = totals(session, assignment)
    assert (figures.checkable, figures.unverifiable) == (0, 1)

    evidence.record(session, assignment, check="instagram_graph", outcome=Outcome.VERIFIED)
    session.commit()
    figures = totals(session, assignment)
    assert (figures.verified, figures.verified_reach, figures.checkable_verified) == (1, 700, 1)
    assert (figures.checkable, figures.unverifiable) == (1, 0)

    evidence.record(session, assignment, check="instagram_graph", outcome=Outcome.GONE)
    session.commit()
    assert totals(session, assignment).deleted_after_verification == 1
    assert rollup.differences(session) == []


def test_decline_expiry_and_withdrawal_move_the_counters(
    session: Session, db: Engine, one: tuple[Assignment, Asn]
) -> None:
    assignment, asn = one
    post = session.get_one(Post, assignment.post_id)
    second = make_assignment(session, post, asn, "x")
    third = make_assignment(session, post, asn, "facebook")
    reporting.decline(session, asn, assignment.id or 0, "Akun sedang dikunci")
    session.execute(
        update(Assignment)
        .where(col(Assignment.id) == second.id)
        .values(deadline=utcnow() - timedelta(days=2))
    )
    session.commit()
    expiry.sweep(db)
    withdrawal.on_withdrawal(session, post.id or 0)
    session.commit()

    figures = totals(session, assignment)
    assert (figures.assignments, figures.declined, figures.expired, figures.withdrawn) == (
        3,
        1,
        1,
        1,
    )
    assert third.id is not None
    assert rollup.differences(session) == []


def test_a_rolled_back_change_is_not_counted(session: Session, one: tuple[Assignment, Asn]) -> None:
    assignment, _asn = one
    assignment.status = AssignmentStatus.VERIFIED
    assignment.followers_at_report = 5
    session.add(assignment)
    session.flush()
    assert totals(session, assignment).verified == 1  # same transaction: counted already
    session.rollback()

    assert totals(session, assignment).verified == 0


def test_clicks_are_counted_at_the_flush_and_erasure_changes_no_count(
    session: Session, db: Engine, one: tuple[Assignment, Asn]
) -> None:
    assignment, asn = one
    target = Target("https://example.go.id", assignment.id or 0, assignment.campaign_id)
    _insert_clicks(db, [(target, 1.7e9, "", None)] * 3, {})
    assert totals(session, assignment).clicks == 3
    before = totals(session, assignment)

    privacy.erase_personal_data(session, asn)
    session.commit()

    assert totals(session, assignment) == before
    session.execute(
        Click.__table__.delete().where(Click.__table__.c.assignment_id == assignment.id)  # type: ignore[attr-defined]
    )
    session.commit()
    assert totals(session, assignment).clicks == 0


def test_check_finds_a_drifted_counter_and_fix_rewrites_it(
    session: Session, one: tuple[Assignment, Asn]
) -> None:
    assignment, _asn = one
    session.execute(update(rollup.ReachRollup).values(assignments=5, clicks=2))
    session.commit()

    found = rollup.differences(session, assignment.campaign_id)

    assert {(d.figure, d.stored, d.recounted) for d in found} == {
        ("assignments", 5, 1),
        ("clicks", 2, 0),
    }
    assert rollup.fix(session, assignment.campaign_id) == 1
    session.commit()
    assert rollup.differences(session) == []
