"""Recurring campaigns: RFC 5545 rules, occurrences in the agency's wall time, drafts made once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from content import recurrence, workflow
from content.models import (
    Campaign,
    CampaignRecurrence,
    CampaignUnit,
    Post,
    PostStatus,
    PostVariant,
    RecurrenceOccurrence,
)
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from kernel.audit import AuditLog
from roster.models import Agency, Role, User
from tests.factories import make_agency, make_campaign, make_post, make_unit, make_user

WITA = ZoneInfo("Asia/Makassar")
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # Saturday 10:00 WITA


def _rule(rule: str, first_local: datetime, zone: str = "Asia/Makassar") -> CampaignRecurrence:
    first = first_local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return CampaignRecurrence(campaign_id=1, rule=rule, first_at=first, timezone=zone, created_by=1)


# --- building and reading rules ------------------------------------------------------


def test_the_simple_form_builds_rfc_5545_rules() -> None:
    weekly = recurrence.build_rule(frequency="weekly", weekdays=["FR", "MO"])
    assert weekly == "FREQ=WEEKLY;BYDAY=MO,FR"
    monthly = recurrence.build_rule(
        frequency="monthly", monthly_by="weekday", nth=-1, nth_weekday="FR", count=6
    )
    assert monthly == "FREQ=MONTHLY;BYDAY=-1FR;COUNT=6"
    every_other = recurrence.build_rule(
        frequency="monthly", interval=2, month_day=17, until=date(2027, 8, 17)
    )
    assert every_other == "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=17;UNTIL=20270817T235959"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"frequency": "daily"}, "frequency"),
        ({"frequency": "weekly"}, "weekdays"),
        ({"frequency": "weekly", "weekdays": ["XX"]}, "weekdays"),
        ({"frequency": "weekly", "weekdays": ["MO"], "interval": 0}, "interval"),
        ({"frequency": "monthly", "month_day": 32}, "month_day"),
        ({"frequency": "monthly", "monthly_by": "weekday", "nth": 5, "nth_weekday": "MO"}, "nth"),
        ({"frequency": "weekly", "weekdays": ["MO"], "count": 0}, "count"),
        (
            {
                "frequency": "weekly",
                "weekdays": ["MO"],
                "until": date(2026, 12, 1),
                "starts_on": date(2026, 12, 7),
            },
            "until",
        ),
    ],
)
def test_a_bad_form_names_the_field(arguments: dict[str, object], field: str) -> None:
    with pytest.raises(GaungError) as caught:
        recurrence.build_rule(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "FREQ=DAILY",
        "FREQ=WEEKLY;BYHOUR=1,2,3",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=MONTHLY;BYMONTHDAY=40",
        "FREQ=WEEKLY;COUNT=100000",
        "FREQ=WEEKLY\nRRULE:FREQ=DAILY",
        "nonsense",
    ],
)
def test_a_rule_gaung_cannot_use_is_refused(rule: str) -> None:
    with pytest.raises(GaungError) as caught:
        recurrence.parse_rule(rule, datetime(2026, 12, 7, 9, 0))
    assert caught.value.field == "rule"


def test_nine_wita_stays_nine_wita_every_week() -> None:
    rule = _rule("FREQ=WEEKLY;BYDAY=FR", datetime(2026, 12, 11, 9, 0))
    moments = recurrence.occurrences(rule, NOW, NOW + timedelta(days=28))
    assert [m.astimezone(WITA).strftime("%a %H:%M") for m in moments] == ["Fri 09:00"] * 4
    assert moments[0] == datetime(2026, 12, 11, 1, 0, tzinfo=UTC)
    assert recurrence.rfc5545(rule) == (
        "DTSTART;TZID=Asia/Makassar:20261211T090000\nRRULE:FREQ=WEEKLY;BYDAY=FR"
    )


@settings(max_examples=60, deadline=None)
@given(
    days=st.sets(st.sampled_from(recurrence.WEEKDAYS), min_size=1),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    start=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    zone=st.sampled_from(["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]),
    weeks=st.integers(min_value=1, max_value=10),
)
def test_weekly_rules_fall_on_their_days_at_their_wall_time(
    days: set[str], at: time, start: date, zone: str, weeks: int
) -> None:
    rule = _rule(
        recurrence.build_rule(frequency="weekly", weekdays=sorted(days)),
        datetime.combine(start, at),
        zone,
    )
    begin = datetime.combine(start, time(0), tzinfo=ZoneInfo(zone))
    moments = recurrence.occurrences(rule, begin, begin + timedelta(weeks=weeks, seconds=-1))
    local = [m.astimezone(ZoneInfo(zone)) for m in moments]
    assert all(recurrence.WEEKDAYS[m.weekday()] in days for m in local)
    assert all(m.time() == at for m in local)
    # Every chosen day once a week; the first week may start after the day's time.
    assert len(days) * weeks - len(days) <= len(moments) <= len(days) * weeks
    assert moments == sorted(set(moments))


@settings(max_examples=60, deadline=None)
@given(
    nth=st.sampled_from(recurrence.NTH),
    weekday=st.integers(min_value=0, max_value=6),
    start=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    count=st.integers(min_value=1, max_value=24),
)
def test_monthly_nth_weekday_rules_keep_their_count_and_week(
    nth: int, weekday: int, start: date, count: int
) -> None:
    built = recurrence.build_rule(
        frequency="monthly",
        monthly_by="weekday",
        nth=nth,
        nth_weekday=recurrence.WEEKDAYS[weekday],
        count=count,
    )
    rule = _rule(built, datetime.combine(start, time(9, 0)))
    begin = datetime.combine(start, time(0), tzinfo=WITA)
    moments = recurrence.occurrences(rule, begin, begin + timedelta(days=31 * 30))
    assert len(moments) == count
    for moment in (m.astimezone(WITA) for m in moments):
        assert moment.weekday() == weekday
        assert moment.time() == time(9, 0)
        if nth > 0:
            assert (moment.day - 1) // 7 == nth - 1
        else:
            assert (moment + timedelta(days=7)).month != moment.month


# --- setting, stopping --------------------------------------------------------------


def _repeating(session: Session) -> Campaign:
    """A campaign (Friday 4 Dec 09:00 WITA, two days long, one unit) with a draft at 11:00."""
    agency = make_agency(session)
    agency.timezone = "Asia/Makassar"
    session.add(agency)
    unit = make_unit(session, agency)
    editor = make_user(session, agency, Role.EDITOR)
    template = make_campaign(session, agency, editor, units=[unit])
    template.starts_at = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    template.deadline = template.starts_at + timedelta(days=2)
    template.reminder_hours = "24,3"
    session.add(template)
    post = make_post(session, template, editor)
    post.scheduled_at = template.starts_at + timedelta(hours=2)
    post.official_url_x = "https://x.com/kominfo/status/1"
    session.add(post)
    assert post.id is not None
    session.add(PostVariant(post_id=post.id, platform="x", position=0, text="Teks X sendiri"))
    session.commit()
    return template


def test_setting_a_rule_is_audited_and_changing_it_keeps_one_rule(session: Session) -> None:
    template = _repeating(session)
    editor = _editor(session, template)
    first = datetime(2026, 12, 11, 1, 0, tzinfo=UTC)
    recurrence.set_recurrence(
        session,
        editor,
        template,
        rule="FREQ=WEEKLY;BYDAY=FR",
        first_at=first,
        timezone="Asia/Makassar",
        now=NOW,
    )
    recurrence.set_recurrence(
        session,
        editor,
        template,
        rule="FREQ=MONTHLY;BYDAY=1FR",
        first_at=first,
        timezone="Asia/Makassar",
        now=NOW,
    )
    rules = session.exec(
        select(CampaignRecurrence).where(CampaignRecurrence.campaign_id == template.id)
    ).all()
    assert [r.rule for r in rules] == ["FREQ=MONTHLY;BYDAY=1FR"]
    actions = session.exec(
        select(AuditLog.action).where(
            AuditLog.entity == "campaign", AuditLog.entity_id == template.id
        )
    ).all()
    assert actions.count("campaign.recurrence_set") == 2


def test_a_rule_is_refused_with_a_reason(session: Session) -> None:
    template = _repeating(session)
    editor = _editor(session, template)

    def attempt(rule: str, first_at: datetime) -> str | None:
        with pytest.raises(GaungError) as caught:
            recurrence.set_recurrence(
                session,
                editor,
                template,
                rule=rule,
                first_at=first_at,
                timezone="Asia/Makassar",
                now=NOW,
            )
        return caught.value.field

    future = NOW + timedelta(days=3)
    assert attempt("FREQ=WEEKLY;BYDAY=FR", NOW - timedelta(days=2)) == "starts_on"
    assert attempt("FREQ=HOURLY", future) == "rule"
    # Ends before its first date: no occurrence at all.
    assert attempt("FREQ=WEEKLY;BYDAY=FR;UNTIL=20261206T235959", future) == "until"
    assert session.exec(select(CampaignRecurrence)).all() == []


def test_only_writers_of_the_agency_set_rules(session: Session) -> None:
    template = _repeating(session)
    agency = make_agency(session)
    supervisor = make_user(session, make_agency_of(session, template.agency_id), Role.SUPERVISOR)
    stranger = make_user(session, agency, Role.EDITOR)
    arguments = {
        "rule": "FREQ=WEEKLY;BYDAY=FR",
        "first_at": NOW + timedelta(days=6),
        "timezone": "Asia/Makassar",
        "now": NOW,
    }
    with pytest.raises(ForbiddenError):
        recurrence.set_recurrence(session, supervisor, template, **arguments)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        recurrence.set_recurrence(session, stranger, template, **arguments)  # type: ignore[arg-type]


# --- making occurrences -------------------------------------------------------------


def _set_weekly(session: Session, template: Campaign) -> CampaignRecurrence:
    editor = _editor(session, template)
    return recurrence.set_recurrence(
        session,
        editor,
        template,
        rule="FREQ=WEEKLY;BYDAY=FR",
        first_at=datetime(2026, 12, 4, 1, 0, tzinfo=UTC),
        timezone="Asia/Makassar",
        now=NOW - timedelta(days=2),
    )


def test_each_occurrence_of_the_coming_week_becomes_a_draft_copy_once(
    db: Engine, session: Session
) -> None:
    template = _repeating(session)
    _set_weekly(session, template)
    assert recurrence.make_due(db, NOW) == 1
    assert recurrence.make_due(db, NOW) == 0  # a second tick, or another worker
    assert recurrence.make_due(db, NOW + timedelta(hours=1)) == 0
    copies = session.exec(
        select(Campaign).where(Campaign.id != template.id, Campaign.agency_id == template.agency_id)
    ).all()
    assert len(copies) == 1
    copy = copies[0]
    assert copy.starts_at.replace(tzinfo=UTC) == datetime(2026, 12, 11, 1, 0, tzinfo=UTC)
    assert copy.deadline.replace(tzinfo=UTC) - copy.starts_at.replace(tzinfo=UTC) == timedelta(
        days=2
    )
    assert copy.title.endswith(" · 2026-12-11")
    assert copy.kind == template.kind
    assert copy.reminder_hours == "24,3"
    units = session.exec(select(CampaignUnit.unit_id).where(CampaignUnit.campaign_id == copy.id))
    template_units = session.exec(
        select(CampaignUnit.unit_id).where(CampaignUnit.campaign_id == template.id)
    )
    assert list(units) == list(template_units)
    posts = session.exec(select(Post).where(Post.campaign_id == copy.id)).all()
    assert len(posts) == 1
    draft = posts[0]
    assert draft.status == PostStatus.DRAFT
    assert draft.official_url_x is None  # a new post has no official post yet
    assert draft.scheduled_at is not None
    assert draft.scheduled_at.replace(tzinfo=UTC) == datetime(2026, 12, 11, 3, 0, tzinfo=UTC)
    assert workflow.get_variants(session, _editor(session, template), draft) == {
        "x": {0: "Teks X sendiri"}
    }
    rows = session.exec(select(RecurrenceOccurrence)).all()
    assert [(r.occurrence, r.campaign_id) for r in rows] == [("20261211T010000Z", copy.id)]


def test_a_made_draft_still_needs_submission_and_approval(db: Engine, session: Session) -> None:
    template = _repeating(session)
    _set_weekly(session, template)
    recurrence.make_due(db, NOW)
    draft = session.exec(
        select(Post).where(Post.campaign_id != template.id).order_by(col(Post.id).desc())
    ).first()
    assert draft is not None
    assert draft.status == PostStatus.DRAFT
    approver = make_user(session, make_agency_of(session, template.agency_id), Role.APPROVER)
    with pytest.raises(GaungError, match="submitted"):
        workflow.approve(session, approver, draft)
    session.rollback()
    assert session.get(Post, draft.id) is not None
    assert draft.status == PostStatus.DRAFT


def test_an_occurrence_already_made_is_not_made_again(session: Session) -> None:
    template = _repeating(session)
    rule = _set_weekly(session, template)
    assert rule.id is not None
    moment = datetime(2026, 12, 11, 1, 0, tzinfo=UTC)
    assert recurrence.make_occurrence(session, rule.id, moment) is not None
    assert recurrence.make_occurrence(session, rule.id, moment) is None
    # A worker that read the plan before the row existed: the primary key stops it.
    session.add(
        RecurrenceOccurrence(
            recurrence_id=rule.id, occurrence=recurrence.occurrence_key(moment + timedelta(days=7))
        )
    )
    session.commit()
    assert recurrence.make_occurrence(session, rule.id, moment + timedelta(days=7)) is None
    assert len(session.exec(select(Campaign).where(Campaign.id != template.id)).all()) >= 1


def test_a_stopped_rule_makes_nothing_and_its_drafts_stay(db: Engine, session: Session) -> None:
    template = _repeating(session)
    _set_weekly(session, template)
    assert recurrence.make_due(db, NOW) == 1
    recurrence.stop_recurrence(session, _editor(session, template), template)
    assert recurrence.make_due(db, NOW + timedelta(days=7)) == 0
    made = session.exec(select(RecurrenceOccurrence)).all()
    assert len(made) == 1
    with pytest.raises(GaungError):
        recurrence.stop_recurrence(session, _editor(session, template), template)


def test_the_campaign_itself_is_its_first_occurrence(db: Engine, session: Session) -> None:
    template = _repeating(session)
    _set_weekly(session, template)
    # Friday 4 Dec 09:00 WITA is the campaign's own start: no copy of it.
    assert recurrence.make_due(db, datetime(2026, 12, 3, 0, 0, tzinfo=UTC)) == 0


def test_a_repeating_campaign_of_drafts_can_still_be_deleted(db: Engine, session: Session) -> None:
    template = _repeating(session)
    _set_weekly(session, template)
    recurrence.make_due(db, NOW)
    workflow.delete_campaign(session, _editor(session, template), template)
    assert session.exec(select(CampaignRecurrence)).all() == []
    assert session.exec(select(RecurrenceOccurrence)).all() == []


# --- helpers ------------------------------------------------------------------------


def make_agency_of(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    assert agency is not None
    return agency


def _editor(session: Session, campaign: Campaign) -> User:
    editor = session.get(User, campaign.created_by)
    assert editor is not None
    return editor
