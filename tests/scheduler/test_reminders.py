"""Reminders before the deadline: scheduled at dispatch, one message per ASN still to act."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment, AssignmentStatus
from content.models import Campaign, CampaignKind, Post, PostStatus
from content.reminder_hours import normalise_hours, parse_hours
from gaung.db import utcnow
from gaung.errors import GaungError
from gaung.settings import get_settings
from kernel import queue
from kernel.jobs import run_due
from kernel.models import WorkItem, WorkStatus
from kernel.outbox import INBOX_LINK, OutboxKind, OutboxMessage, OutboxStatus
from roster.models import Agency, Asn, AsnStatus, Role, Unit, User
from scheduler import dispatch
from scheduler.deliver import claim
from scheduler.dispatch import dispatch_post
from scheduler.reminders import message_key, on_dispatch, send_reminders, work_key
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user

_work = WorkItem.__table__  # type: ignore[attr-defined]


def _setup(session: Session) -> tuple[Unit, User]:
    agency = make_agency(session)
    return make_unit(session, agency), make_user(session, agency, Role.EDITOR)


def _campaign(
    session: Session,
    unit: Unit,
    editor: User,
    *,
    kind: str = CampaignKind.PROGRAM,
    reminder_hours: str | None = None,
    deadline_in: timedelta = timedelta(days=2),
) -> Campaign:
    campaign = make_campaign(session, session.get_one(Agency, unit.agency_id), editor, kind=kind)
    campaign.reminder_hours = reminder_hours
    campaign.deadline = utcnow() + deadline_in
    session.add(campaign)
    session.commit()
    return campaign


def _dispatched(
    session: Session, db: Engine, campaign: Campaign, editor: User, **post: object
) -> Post:
    made = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    for name, value in post.items():
        setattr(made, name, value)
    session.add(made)
    session.commit()
    assert made.id is not None
    dispatch_post(db, made.id)
    return made


def _asn(session: Session, unit: Unit, **changes: object) -> Asn:
    asn = make_asn(session, unit)
    for name, value in changes.items():
        setattr(asn, name, value)
    session.add(asn)
    session.commit()
    return asn


def _reminders(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.REMINDER)
    return list(session.exec(query.order_by(col(OutboxMessage.asn_id))))


def _reminder_items(session: Session) -> list[WorkItem]:
    session.expire_all()
    query = select(WorkItem).where(WorkItem.kind == "reminder").order_by(col(WorkItem.run_at))
    return list(session.exec(query))


def _set_status(session: Session, asn: Asn, status: str) -> None:
    for assignment in session.exec(select(Assignment).where(Assignment.asn_id == asn.id)):
        assignment.status = status
        session.add(assignment)
    session.commit()


# --- reminder times ---------------------------------------------------------------------


@given(st.sets(st.integers(min_value=1, max_value=720), min_size=1, max_size=5))
def test_reminder_times_round_trip_largest_first(hours: set[int]) -> None:
    text = " , ".join(f"{h}h" if h % 2 else str(h) for h in hours)
    assert parse_hours(text) == tuple(sorted(hours, reverse=True))
    assert normalise_hours(text) == ",".join(str(h) for h in sorted(hours, reverse=True))


@pytest.mark.parametrize("bad", ["abc", "-3", "721", "2.5", "24,x"])
def test_a_bad_reminder_time_is_named_in_the_error(bad: str) -> None:
    with pytest.raises(GaungError) as caught:
        parse_hours(bad)
    assert caught.value.field == "reminder_hours"
    assert caught.value.params["limit"] == 720


def test_too_many_reminder_times_are_refused() -> None:
    with pytest.raises(GaungError) as caught:
        parse_hours("1,2,3,4,5,6")
    assert caught.value.params == {"limit": 5, "actual": 6}


def test_empty_means_the_default_and_zero_means_none() -> None:
    assert normalise_hours("") is None
    assert normalise_hours(None) is None
    assert normalise_hours("0") == "0"
    assert parse_hours("0") == ()


# --- scheduling at dispatch -------------------------------------------------------------


def test_dispatch_schedules_the_campaigns_reminders_before_its_deadline(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    _asn(session, unit)
    campaign = _campaign(session, unit, editor, reminder_hours="24,3")
    assert campaign.id is not None

    _dispatched(session, db, campaign, editor)

    items = _reminder_items(session)
    assert [i.key for i in items] == [work_key(campaign.id, 24), work_key(campaign.id, 3)]
    for item, hours in zip(items, (24, 3), strict=True):
        assert item.run_at == campaign.deadline - timedelta(hours=hours)
        assert queue.payload_of(item) == {"campaign_id": campaign.id, "hours": hours}


def test_a_second_post_of_the_campaign_reuses_the_same_reminders(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    _asn(session, unit)
    campaign = _campaign(session, unit, editor, reminder_hours="6")

    _dispatched(session, db, campaign, editor)
    _dispatched(session, db, campaign, editor)

    assert len(_reminder_items(session)) == 1


def test_reminders_already_past_at_dispatch_are_skipped(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    _asn(session, unit)
    soon = timedelta(hours=5)
    campaign = _campaign(session, unit, editor, reminder_hours="24,3", deadline_in=soon)
    assert campaign.id is not None

    _dispatched(session, db, campaign, editor)

    assert [i.key for i in _reminder_items(session)] == [work_key(campaign.id, 3)]


def test_without_reminder_times_the_settings_default_applies(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().reminders, "default_hours", "12")
    unit, editor = _setup(session)
    _asn(session, unit)
    campaign = _campaign(session, unit, editor)
    assert campaign.id is not None

    _dispatched(session, db, campaign, editor)

    assert [i.key for i in _reminder_items(session)] == [work_key(campaign.id, 12)]


def test_a_campaign_can_turn_reminders_off(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    _asn(session, unit)
    campaign = _campaign(session, unit, editor, reminder_hours="0")

    _dispatched(session, db, campaign, editor)

    assert _reminder_items(session) == []


def test_the_reminder_hook_is_registered_once() -> None:
    assert dispatch.after_assignments.count(on_dispatch) == 1


# --- sending ----------------------------------------------------------------------------


def test_one_reminder_per_asn_lists_all_their_open_assignments(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    asn = _asn(session, unit, locale="en")
    campaign = _campaign(session, unit, editor)
    _dispatched(session, db, campaign, editor, platforms="x,facebook")
    _dispatched(session, db, campaign, editor, platforms="instagram")
    assert campaign.id is not None
    assert asn.id is not None

    assert send_reminders(db, campaign.id, 24) == 1

    (message,) = _reminders(session)
    assert message.key == message_key(campaign.id, asn.id, 24)
    assert message.key == f"reminder:{campaign.id}:{asn.id}:24"
    assert message.campaign_id == campaign.id
    assert message.status == OutboxStatus.QUEUED
    assert message.recipient == asn.email
    assert message.subject.startswith("Reminder:")
    assert campaign.title in message.subject
    assert asn.name in message.text
    assert "Assignments still open: 3." in message.text
    for name in ("X", "Facebook", "Instagram"):
        assert name in message.text
    assert INBOX_LINK in message.text  # the magic link is minted at send time
    assert message.html is not None
    assert INBOX_LINK in message.html


def test_a_reminder_is_written_once_however_often_the_job_runs(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    _asn(session, unit)
    campaign = _campaign(session, unit, editor)
    _dispatched(session, db, campaign, editor)
    assert campaign.id is not None

    send_reminders(db, campaign.id, 24)
    send_reminders(db, campaign.id, 24)
    send_reminders(db, campaign.id, 3)

    assert sorted(m.key.rsplit(":", 1)[1] for m in _reminders(session)) == ["24", "3"]


@pytest.mark.parametrize(
    "status",
    [AssignmentStatus.REPORTED, AssignmentStatus.VERIFIED, AssignmentStatus.DECLINED],
)
def test_asn_who_reported_or_declined_are_not_reminded(
    db: Engine, session: Session, status: str
) -> None:
    unit, editor = _setup(session)
    done = _asn(session, unit)
    todo = _asn(session, unit)
    campaign = _campaign(session, unit, editor)
    _dispatched(session, db, campaign, editor)
    _set_status(session, done, status)
    assert campaign.id is not None

    send_reminders(db, campaign.id, 24)

    assert [m.asn_id for m in _reminders(session)] == [todo.id]


def test_a_rejected_link_still_needs_a_repost_so_it_is_reminded(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    asn = _asn(session, unit)
    campaign = _campaign(session, unit, editor)
    _dispatched(session, db, campaign, editor)
    _set_status(session, asn, AssignmentStatus.REJECTED)
    assert campaign.id is not None

    send_reminders(db, campaign.id, 3)

    assert [m.asn_id for m in _reminders(session)] == [asn.id]


def test_muted_asn_get_no_routine_reminders(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    _asn(session, unit, mute_reminders=True)
    listening = _asn(session, unit)
    campaign = _campaign(session, unit, editor)
    _dispatched(session, db, campaign, editor)
    assert campaign.id is not None

    send_reminders(db, campaign.id, 24)

    assert [m.asn_id for m in _reminders(session)] == [listening.id]


@pytest.mark.parametrize("how", ["hoax", "urgent_post"])
def test_urgent_reminders_reach_muted_asn_and_go_first(
    db: Engine, session: Session, how: str
) -> None:
    unit, editor = _setup(session)
    muted = _asn(session, unit, mute_reminders=True, locale="en")
    kind = CampaignKind.HOAX_CLARIFICATION if how == "hoax" else CampaignKind.PROGRAM
    campaign = _campaign(session, unit, editor, kind=kind)
    _dispatched(session, db, campaign, editor, urgent=how == "urgent_post")
    assert campaign.id is not None

    send_reminders(db, campaign.id, 3)

    (message,) = _reminders(session)
    assert message.asn_id == muted.id
    assert message.priority == 1
    assert message.subject.startswith("URGENT")


def test_suspended_asn_and_passed_deadlines_get_nothing(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    _asn(session, unit)
    gone = _asn(session, unit)
    campaign = _campaign(session, unit, editor)
    _dispatched(session, db, campaign, editor)
    gone.status = AsnStatus.SUSPENDED
    session.add(gone)
    session.commit()
    assert campaign.id is not None

    assert send_reminders(db, campaign.id, 24) == 1
    with db.begin() as conn:
        table = Campaign.__table__  # type: ignore[attr-defined]
        past = utcnow() - timedelta(minutes=1)
        conn.execute(update(table).where(table.c.id == campaign.id).values(deadline=past))
    assert send_reminders(db, campaign.id, 3) == 0


def test_reminders_are_in_each_asns_language(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    english = _asn(session, unit, locale="en")
    indonesian = _asn(session, unit, locale="id")
    campaign = _campaign(session, unit, editor)
    _dispatched(session, db, campaign, editor)
    assert campaign.id is not None
    assert english.id is not None
    assert indonesian.id is not None

    send_reminders(db, campaign.id, 24)

    by_asn = {m.asn_id: m for m in _reminders(session)}
    assert by_asn[english.id].subject.startswith("Reminder:")
    assert by_asn[indonesian.id].subject.startswith("Pengingat:")
    assert english.name in by_asn[english.id].text
    assert indonesian.name in by_asn[indonesian.id].text


def test_whatsapp_reminders_use_their_own_template(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    _asn(session, unit, messenger="whatsapp", phone="+6281234567890")
    campaign = _campaign(session, unit, editor)
    _dispatched(session, db, campaign, editor)
    assert campaign.id is not None

    send_reminders(db, campaign.id, 24)

    (message,) = _reminders(session)
    assert message.template == "gaung_reminder"
    assert message.recipient == "+6281234567890"


def test_the_queued_reminder_runs_when_due(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    asn = _asn(session, unit)
    campaign = _campaign(session, unit, editor, reminder_hours="3")
    _dispatched(session, db, campaign, editor)
    with db.begin() as conn:
        due = utcnow() - timedelta(seconds=1)
        conn.execute(update(_work).where(_work.c.kind == "reminder").values(run_at=due))

    run_due(db, "w1", limit=10)

    (item,) = _reminder_items(session)
    assert item.status == WorkStatus.DONE
    assert [m.asn_id for m in _reminders(session)] == [asn.id]


def test_urgent_messages_are_claimed_before_older_routine_ones(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    for _ in range(3):
        _asn(session, unit)
    routine = _campaign(session, unit, editor)
    _dispatched(session, db, routine, editor)
    hoax = _campaign(session, unit, editor, kind=CampaignKind.HOAX_CLARIFICATION)
    _dispatched(session, db, hoax, editor)

    claimed = claim(db, "w1", messenger="email", limit=3)

    assert {row.campaign_id for row in claimed} == {hoax.id}
    assert all(row.priority == 1 for row in claimed)
