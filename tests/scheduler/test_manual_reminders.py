"""Who has not acted yet, per unit, and reminding exactly them by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment, AssignmentStatus
from content.models import CampaignKind, PostStatus
from gaung.db import utcnow
from gaung.errors import NotFoundError
from gaung.settings import get_settings
from kernel.audit import AuditLog
from kernel.outbox import OutboxKind, OutboxMessage, OutboxStatus
from roster.models import Asn, AsnStatus, Role, Unit, User
from scheduler import manual_reminders
from scheduler.dispatch import dispatch_post
from scheduler.manual_reminders import ManualReminder, Result, not_acted, remind
from scheduler.reminders import send_reminders
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings().reminders, "manual_interval_hours", 3)
    monkeypatch.setattr(get_settings().reminders, "recent_hours", 3)


class World:
    def __init__(self, session: Session, db: Engine) -> None:
        self.session, self.db = session, db
        self.agency = make_agency(session)
        self.north = make_unit(session, self.agency, "Biro Utara")
        self.south = make_unit(session, self.agency, "Biro Selatan")
        self.editor = make_user(session, self.agency, Role.EDITOR)
        self.campaign = make_campaign(session, self.agency, self.editor)

    def asn(self, unit: Unit, **changes: object) -> Asn:
        asn = make_asn(self.session, unit)
        for name, value in changes.items():
            setattr(asn, name, value)
        self.session.add(asn)
        self.session.commit()
        return asn

    def dispatch(self, platforms: str = "x", *, age: timedelta = timedelta(hours=5)) -> None:
        """Dispatch a post of the campaign; its notices are dated ``age`` ago."""
        post = make_post(self.session, self.campaign, self.editor, status=PostStatus.APPROVED)
        post.platforms = platforms
        self.session.add(post)
        self.session.commit()
        assert post.id is not None
        dispatch_post(self.db, post.id)
        self.age_messages(age)

    def age_messages(self, age: timedelta) -> None:
        with self.db.begin() as conn:
            conn.execute(update(_outbox).values(created_at=utcnow() - age))

    def set_status(self, asn: Asn, status: str) -> None:
        for assignment in self.session.exec(select(Assignment).where(Assignment.asn_id == asn.id)):
            assignment.status = status
            self.session.add(assignment)
        self.session.commit()

    def remind(self, unit: Unit | None, key: str = "k" * 20, user: User | None = None) -> Any:
        return remind(
            self.session, user or self.editor, self.campaign, key, unit.id if unit else None
        )

    def manual_messages(self) -> list[OutboxMessage]:
        self.session.expire_all()
        query = select(OutboxMessage).where(col(OutboxMessage.key).startswith("manual-reminder:"))
        return list(self.session.exec(query.order_by(col(OutboxMessage.asn_id))))


@pytest.fixture
def world(session: Session, db: Engine) -> World:
    return World(session, db)


def _listed(world: World) -> dict[str, list[int]]:
    return {u.unit: [p.asn_id for p in u.people] for u in not_acted(world.session, world.campaign)}


# --- the list ---------------------------------------------------------------------------


def test_only_people_with_an_open_assignment_are_listed_per_unit(world: World) -> None:
    pending = world.asn(world.north, name="Ani")
    rejected = world.asn(world.north, name="Budi")
    gone = [world.asn(world.north) for _ in range(5)]
    south = world.asn(world.south, name="Citra")
    suspended = world.asn(world.south)
    world.dispatch()
    world.set_status(rejected, AssignmentStatus.REJECTED)
    closed = (AssignmentStatus.REPORTED, AssignmentStatus.VERIFIED, AssignmentStatus.DECLINED)
    for asn, status in zip(
        gone, (*closed, AssignmentStatus.EXPIRED, AssignmentStatus.WITHDRAWN), strict=True
    ):
        world.set_status(asn, status)
    suspended.status = AsnStatus.SUSPENDED
    world.session.add(suspended)
    world.session.commit()

    assert _listed(world) == {"Biro Selatan": [south.id], "Biro Utara": [pending.id, rejected.id]}


def test_a_person_is_listed_once_with_every_platform_and_when_they_were_told(
    world: World,
) -> None:
    asn = world.asn(world.north)
    world.dispatch("x,facebook")
    world.dispatch("instagram", age=timedelta(hours=1))

    (unit,) = not_acted(world.session, world.campaign)
    (person,) = unit.people
    assert person.platforms == ("x", "facebook", "instagram")
    assert person.open == 3
    assert person.messenger == asn.messenger
    assert person.last_notice_at is not None
    assert abs(person.last_notice_at - (utcnow() - timedelta(hours=1))) < timedelta(minutes=1)
    assert person.last_reminder_at is None


def test_a_passed_deadline_leaves_nobody_to_act(world: World) -> None:
    world.asn(world.north)
    world.dispatch()
    world.session.exec(update(Assignment).values(deadline=utcnow() - timedelta(minutes=1)))
    world.session.commit()

    assert not_acted(world.session, world.campaign) == []


# --- reminding --------------------------------------------------------------------------


def test_a_unit_reminder_queues_one_message_per_listed_person_of_that_unit(world: World) -> None:
    first, second = world.asn(world.north), world.asn(world.north)
    world.asn(world.south)
    world.dispatch("x,instagram")

    (outcome,) = world.remind(world.north)

    assert outcome.result == Result.SENT
    assert (outcome.queued, outcome.skipped_recent, outcome.skipped_muted) == (2, 0, 0)
    messages = world.manual_messages()
    assert [m.asn_id for m in messages] == [first.id, second.id]
    record = world.session.exec(select(ManualReminder)).one()
    for message in messages:
        assert message.kind == OutboxKind.REMINDER
        assert message.status == OutboxStatus.QUEUED
        assert message.campaign_id == world.campaign.id
        assert message.key == f"manual-reminder:{world.campaign.id}:{message.asn_id}:{record.id}"
        assert world.campaign.title in message.subject


def test_a_manual_reminder_reads_like_the_scheduled_one(world: World) -> None:
    world.asn(world.north)
    world.dispatch()
    assert world.campaign.id is not None
    send_reminders(world.db, world.campaign.id, 24)
    scheduled = world.session.exec(
        select(OutboxMessage).where(col(OutboxMessage.key).startswith("reminder:"))
    ).one()
    world.age_messages(timedelta(hours=4))

    world.remind(world.north)

    (manual,) = world.manual_messages()
    assert (manual.subject, manual.text, manual.html) == (
        scheduled.subject,
        scheduled.text,
        scheduled.html,
    )


def test_people_who_acted_before_the_click_are_not_reminded(world: World) -> None:
    acted, waiting = world.asn(world.north), world.asn(world.north)
    world.dispatch()
    assert len(not_acted(world.session, world.campaign)[0].people) == 2  # the page they saw

    world.set_status(acted, AssignmentStatus.REPORTED)
    (outcome,) = world.remind(world.north)

    assert outcome.queued == 1
    assert [m.asn_id for m in world.manual_messages()] == [waiting.id]


def test_a_second_reminder_of_the_unit_within_the_interval_is_refused(world: World) -> None:
    world.asn(world.north)
    world.dispatch()
    (first,) = world.remind(world.north, key="a" * 20)
    record = world.session.exec(select(ManualReminder)).one()

    (second,) = world.remind(world.north, key="b" * 20)

    assert first.result == Result.SENT
    assert second.result == Result.TOO_SOON
    assert second.next_at == record.at + timedelta(hours=3)
    assert len(world.manual_messages()) == 1
    (unit,) = not_acted(world.session, world.campaign)
    assert unit.next_manual_at == second.next_at


def test_after_the_interval_the_unit_can_be_reminded_again(world: World) -> None:
    world.asn(world.north)
    world.dispatch()
    world.remind(world.north, key="a" * 20)
    earlier = utcnow() - timedelta(hours=4)
    world.session.exec(update(ManualReminder).values(at=earlier))
    world.session.commit()
    world.age_messages(timedelta(hours=4))

    (again,) = world.remind(world.north, key="b" * 20)

    assert again.result == Result.SENT
    assert len(world.manual_messages()) == 2


def test_the_same_click_twice_sends_once_and_answers_the_same(world: World) -> None:
    world.asn(world.north)
    world.dispatch()

    (first,) = world.remind(world.north, key="same" * 5)
    (again,) = world.remind(world.north, key="same" * 5)

    assert first.result == Result.SENT
    assert again.result == Result.REPLAYED
    assert again.queued == first.queued == 1
    assert len(world.manual_messages()) == 1


def test_the_interval_is_per_unit_so_other_units_can_still_be_reminded(world: World) -> None:
    world.asn(world.north)
    world.asn(world.south)
    world.dispatch()
    world.remind(world.north, key="a" * 20)

    outcomes = world.remind(None, key="b" * 20)

    assert {o.unit: o.result for o in outcomes} == {
        "Biro Selatan": Result.SENT,
        "Biro Utara": Result.TOO_SOON,
    }
    assert len(world.manual_messages()) == 2


def test_people_told_recently_are_skipped_and_counted(world: World) -> None:
    told, untold = world.asn(world.north), world.asn(world.north)
    world.dispatch()
    assert world.campaign.id is not None
    assert told.id is not None
    send_reminders(world.db, world.campaign.id, 24)
    with world.db.begin() as conn:  # only ``told``'s scheduled reminder is recent
        conn.execute(
            update(_outbox)
            .where(_outbox.c.kind == OutboxKind.REMINDER, _outbox.c.asn_id != told.id)
            .values(created_at=utcnow() - timedelta(hours=4))
        )

    (outcome,) = world.remind(world.north)

    assert (outcome.queued, outcome.skipped_recent) == (1, 1)
    assert [m.asn_id for m in world.manual_messages()] == [untold.id]


def test_a_fresh_assignment_notice_counts_as_told(world: World) -> None:
    world.asn(world.north)
    world.dispatch(age=timedelta(minutes=10))

    (outcome,) = world.remind(world.north)

    assert outcome.result == Result.ALL_SKIPPED
    assert outcome.skipped_recent == 1
    assert world.manual_messages() == []
    # Nothing was sent, so the unit's interval has not started.
    assert world.session.exec(select(ManualReminder)).all() == []


def test_a_failed_notice_does_not_count_as_told(world: World) -> None:
    world.asn(world.north)
    world.dispatch(age=timedelta(minutes=10))
    with world.db.begin() as conn:
        conn.execute(update(_outbox).values(status=OutboxStatus.FAILED))

    (outcome,) = world.remind(world.north)

    assert outcome.queued == 1


def test_people_who_turned_reminders_off_are_skipped_unless_urgent(world: World) -> None:
    world.asn(world.north, mute_reminders=True)
    world.asn(world.north)
    world.dispatch()

    (outcome,) = world.remind(world.north)

    assert (outcome.queued, outcome.skipped_muted) == (1, 1)


def test_urgent_campaigns_remind_people_who_turned_reminders_off(world: World) -> None:
    world.campaign.kind = CampaignKind.HOAX_CLARIFICATION
    world.session.add(world.campaign)
    world.session.commit()
    world.asn(world.north, mute_reminders=True)
    world.dispatch()

    (outcome,) = world.remind(world.north)

    assert (outcome.queued, outcome.skipped_muted) == (1, 0)
    (message,) = world.manual_messages()
    assert message.priority == 1


def test_scheduled_reminders_skip_people_reminded_by_hand_recently(world: World) -> None:
    reminded = world.asn(world.north)
    other = world.asn(world.south)
    world.dispatch()
    world.remind(world.north)
    assert world.campaign.id is not None

    assert send_reminders(world.db, world.campaign.id, 3) == 1

    scheduled = world.session.exec(
        select(OutboxMessage).where(col(OutboxMessage.key).startswith("reminder:"))
    ).all()
    assert [m.asn_id for m in scheduled] == [other.id]
    assert reminded.id not in [m.asn_id for m in scheduled]


def test_a_manual_reminder_is_audited(world: World) -> None:
    world.asn(world.north, mute_reminders=True)
    world.asn(world.north)
    world.dispatch()

    world.remind(world.north)

    (entry,) = world.session.exec(
        select(AuditLog).where(AuditLog.action == "campaign.reminded")
    ).all()
    assert entry.actor_id == world.editor.id
    assert entry.agency_id == world.agency.id
    assert (entry.entity, entry.entity_id) == ("campaign", world.campaign.id)
    assert entry.detail == (
        f"unit {world.north.id} (Biro Utara): 1 queued, 0 skipped as told recently, "
        "1 skipped as reminders off"
    )


def test_another_agencys_unit_is_not_found(world: World, session: Session) -> None:
    other = make_unit(session, make_agency(session))

    with pytest.raises(NotFoundError):
        world.remind(other)


def test_a_click_racing_another_one_is_refused_without_sending(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clicks read "nobody reminded yet" at once; the one that writes second loses."""
    world.asn(world.north)
    world.dispatch()
    real = manual_reminders._recently_told

    def racing(session: Session, *args: Any) -> set[int]:
        told = real(session, *args)
        monkeypatch.setattr(manual_reminders, "_recently_told", real)
        with Session(world.db) as other:  # the other click commits in between
            remind(other, world.editor, world.campaign, "other" * 4, world.north.id)
        return told

    monkeypatch.setattr(manual_reminders, "_recently_told", racing)

    (outcome,) = world.remind(world.north, key="mine" * 5)

    assert outcome.result == Result.TOO_SOON
    assert len(world.manual_messages()) == 1
    assert len(world.session.exec(select(ManualReminder)).all()) == 1


def test_nobody_left_in_a_unit_sends_nothing(world: World) -> None:
    done = world.asn(world.north)
    world.dispatch()
    world.set_status(done, AssignmentStatus.DECLINED)

    (outcome,) = world.remind(world.north)

    assert outcome.result == Result.NOBODY
    assert world.manual_messages() == []


# One person: for each platform, None (not assigned) or the status of their assignment; muted.
_PERSON = st.tuples(
    st.lists(st.none() | st.sampled_from(list(AssignmentStatus)), min_size=3, max_size=3),
    st.booleans(),
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=st.lists(_PERSON, min_size=1, max_size=5))
def test_exactly_the_people_with_an_open_assignment_are_listed_and_reminded(
    session: Session, people: list[tuple[list[AssignmentStatus | None], bool]]
) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, status=PostStatus.DISPATCHED)
    open_ids, muted_ids = set(), set()
    for statuses, muted in people:
        asn = make_asn(session, unit)
        asn.mute_reminders = muted
        session.add(asn)
        for platform, status in zip(("x", "facebook", "instagram"), statuses, strict=True):
            if status is not None:
                assignment = make_assignment(session, post, asn, platform)
                assignment.status = status
                session.add(assignment)
        session.commit()
        if any(s in (AssignmentStatus.PENDING, AssignmentStatus.REJECTED) for s in statuses):
            open_ids.add(asn.id)
            if muted:
                muted_ids.add(asn.id)

    listed = {p.asn_id for u in not_acted(session, campaign) for p in u.people}
    outcomes = remind(session, editor, campaign, "p" * 20, unit.id)

    assert listed == open_ids
    query = select(OutboxMessage.asn_id).where(OutboxMessage.campaign_id == campaign.id)
    assert set(session.exec(query)) == open_ids - muted_ids
    (outcome,) = outcomes
    assert (outcome.queued, outcome.skipped_muted) == (len(open_ids - muted_ids), len(muted_ids))
