"""The monthly leaderboard: only opted-in, active ASN of the agency, ranked by verified
reposts then clicks, in the agency's month; nothing at all when the agency turned it off."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from assignments.leaderboard import Board, Month, Standing, agency_board, own_standing, ranked
from assignments.models import Assignment, AssignmentStatus, Click
from content.models import Post, PostStatus
from gaung.errors import GaungError
from roster import recognition
from roster.models import Agency, Asn, AsnStatus, Role, Unit
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

DECEMBER = Month(2026, 12)
JAYAPURA = ZoneInfo("Asia/Jayapura")  # WIT, UTC+9: its month starts 9 hours before UTC's
MID_DECEMBER = datetime(2026, 12, 15, 3, tzinfo=UTC)


def _post(session: Session, agency: Agency) -> Post:
    author = make_user(session, agency)
    campaign = make_campaign(session, agency, author)
    return make_post(session, campaign, author, status=PostStatus.DISPATCHED)


def _verified(session: Session, post: Post, asn: Asn, at: datetime, platform: str = "x") -> int:
    assignment = make_assignment(session, post, asn, platform)
    assignment.status = AssignmentStatus.VERIFIED
    assignment.verified_at = at
    session.add(assignment)
    session.commit()
    assert assignment.id is not None
    return assignment.id


def _clicks(
    session: Session, assignment_id: int, post: Post, at: datetime, visitors: list[int | None]
) -> None:
    for visitor in visitors:
        session.add(
            Click(assignment_id=assignment_id, campaign_id=post.campaign_id, at=at, clicker=visitor)
        )
    session.commit()


def _line(rank: int, asn_id: int, name: str, verified: int, clicks: int) -> Standing:
    return Standing(rank, asn_id, name, 1, "Biro", verified, clicks)


def test_a_month_reads_and_steps_as_people_write_it() -> None:
    assert Month.parse(" 2026-12 ") == DECEMBER
    assert str(DECEMBER) == "2026-12"
    assert DECEMBER.next() == Month(2027, 1)
    assert Month(2027, 1).previous() == DECEMBER
    assert DECEMBER.bounds(JAYAPURA) == (
        datetime(2026, 11, 30, 15, tzinfo=UTC),
        datetime(2026, 12, 31, 15, tzinfo=UTC),
    )


@pytest.mark.parametrize("typed", ["", "2026-13", "2026-00", "12-2026", "2026/12", "1999-12"])
def test_a_month_that_is_not_one_names_the_field(typed: str) -> None:
    with pytest.raises(GaungError) as refused:
        Month.parse(typed)
    assert refused.value.field == "month"


def test_ties_share_a_rank_and_the_next_rank_skips() -> None:
    lines = [
        _line(0, 1, "Citra", 2, 5),
        _line(0, 2, "ani", 3, 0),
        _line(0, 3, "Budi", 2, 5),
        _line(0, 4, "Dewi", 2, 9),
        _line(0, 5, "Eka", 0, 0),
    ]
    result = [(s.rank, s.name) for s in ranked(lines)]
    # More verified first; then more clicks; equal on both: same rank, by name.
    assert result == [(1, "ani"), (2, "Dewi"), (3, "Budi"), (3, "Citra"), (5, "Eka")]


def test_the_board_ranks_opted_in_asn_by_verified_reposts_then_clicks(session: Session) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    post = _post(session, agency)
    first, second, third, shy = (make_asn(session, unit) for _ in range(4))
    for person in (first, second, third):
        recognition.join(session, person)
    _verified(session, post, first, MID_DECEMBER)
    _verified(session, post, first, MID_DECEMBER, "facebook")
    clicked = _verified(session, post, second, MID_DECEMBER)
    _verified(session, post, third, MID_DECEMBER)
    _verified(session, post, shy, MID_DECEMBER)  # did the most, but never opted in
    _verified(session, post, shy, MID_DECEMBER, "facebook")
    _verified(session, post, shy, MID_DECEMBER, "instagram")
    # Two visitors, one of them clicking three times in a day: 2 clicks.
    _clicks(session, clicked, post, MID_DECEMBER, [11, 11, 11, 22])

    board = agency_board(session, agency.id or 0, DECEMBER)

    assert board is not None
    assert [(s.rank, s.asn_id, s.verified, s.clicks) for s in board.entries] == [
        (1, first.id, 2, 0),
        (2, second.id, 1, 2),
        (3, third.id, 1, 0),
    ]
    assert board.of(shy.id) is None


def test_only_this_months_verified_and_clicks_count_in_the_agencys_zone(
    session: Session,
) -> None:
    agency = make_agency(session)
    agency.timezone = "Asia/Jayapura"
    session.add(agency)
    session.commit()
    post = _post(session, agency)
    asn = make_asn(session, make_unit(session, agency))
    recognition.join(session, asn)
    start, end = DECEMBER.bounds(JAYAPURA)
    inside = _verified(session, post, asn, start)  # 1 December 00:00 WIT
    _verified(session, post, asn, start - timedelta(seconds=1), "facebook")  # still November
    _verified(session, post, asn, end, "instagram")  # already January
    _clicks(session, inside, post, start, [1])
    _clicks(session, inside, post, end - timedelta(minutes=1), [2, None, None])
    _clicks(session, inside, post, end, [3])
    gone = make_assignment(session, _post(session, agency), asn)
    gone.status, gone.verified_at = AssignmentStatus.VERIFIED, MID_DECEMBER
    gone.flagged_gone_at = MID_DECEMBER  # deleted after verification: does not count
    session.add(gone)
    session.commit()

    board = agency_board(session, agency.id or 0, DECEMBER)

    assert board is not None
    assert [(s.verified, s.clicks) for s in board.entries] == [(1, 4)]


def test_unit_lists_rank_within_the_unit_and_the_own_standing_gives_both(
    session: Session,
) -> None:
    agency = make_agency(session)
    north, south = (
        make_unit(session, agency, "Biro Utara"),
        make_unit(session, agency, "Biro Selatan"),
    )
    post = _post(session, agency)
    people = [make_asn(session, north), make_asn(session, south), make_asn(session, south)]
    for count, person in zip((3, 2, 1), people, strict=True):
        recognition.join(session, person)
        for platform in ("x", "facebook", "instagram")[:count]:
            _verified(session, post, person, MID_DECEMBER, platform)

    mine = own_standing(session, people[1], DECEMBER)

    assert mine is not None
    assert (mine.unit_name, mine.unit.rank, mine.unit_size) == ("Biro Selatan", 1, 2)
    assert (mine.agency.rank, mine.agency_size) == (2, 3)
    board = agency_board(session, agency.id or 0, DECEMBER)
    assert board is not None
    assert [s.asn_id for s in board.unit(south.id or 0).entries] == [people[1].id, people[2].id]


def test_the_agency_switch_off_hides_everything(session: Session) -> None:
    agency = make_agency(session)
    asn = make_asn(session, make_unit(session, agency))
    recognition.join(session, asn)
    _verified(session, _post(session, agency), asn, MID_DECEMBER)

    recognition.set_agency_switch(session, make_user(session, agency, Role.ADMIN), False)

    assert agency_board(session, agency.id or 0, DECEMBER) is None
    assert own_standing(session, asn, DECEMBER) is None


def test_suspended_and_departed_asn_leave_the_board_and_not_opted_in_have_no_standing(
    session: Session,
) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    kept, suspended, never = (
        make_asn(session, unit),
        make_asn(session, unit),
        make_asn(session, unit),
    )
    recognition.join(session, kept)
    recognition.join(session, suspended)
    suspended.status = AsnStatus.SUSPENDED
    session.add(suspended)
    session.commit()

    board = agency_board(session, agency.id or 0, DECEMBER)

    assert board is not None
    assert [s.asn_id for s in board.entries] == [kept.id]
    assert own_standing(session, never, DECEMBER) is None
    assert own_standing(session, suspended, DECEMBER) is None


# --- whatever happens, who did not opt in never appears -------------------------------------


@dataclass(frozen=True)
class Person:
    agency: int  # 0: the agency read, 1: another agency
    unit: int
    opted_in: bool
    active: bool


@dataclass(frozen=True)
class Event:
    person: int
    kind: str  # verified, reported, click
    hours: int  # from 1 December 00:00 in the agency's zone (negative: November)
    visitor: int | None


PEOPLE = st.lists(
    st.builds(
        Person,
        agency=st.integers(0, 1),
        unit=st.integers(0, 1),
        opted_in=st.booleans(),
        active=st.booleans(),
    ),
    min_size=1,
    max_size=7,
)
EVENTS = st.lists(
    st.builds(
        Event,
        person=st.integers(0, 6),
        kind=st.sampled_from(["verified", "reported", "click"]),
        hours=st.sampled_from([-1, 0, 1, 24 * 15, 24 * 31 - 1, 24 * 31]),
        visitor=st.none() | st.integers(1, 3),
    ),
    max_size=15,
)


_codes = itertools.count()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=PEOPLE, events=EVENTS, switched_off=st.booleans())
def test_whoever_did_not_opt_in_never_appears_whatever_happened(
    session: Session, people: list[Person], events: list[Event], switched_off: bool
) -> None:
    agencies = [make_agency(session), make_agency(session)]
    agencies[0].timezone = "Asia/Jayapura"
    session.add(agencies[0])
    session.commit()
    units = [[make_unit(session, a) for _ in range(2)] for a in agencies]
    authors = [make_user(session, a) for a in agencies]
    campaigns = [make_campaign(session, a, u) for a, u in zip(agencies, authors, strict=True)]
    asns: list[Asn] = []
    for person in people:
        asn = make_asn(session, units[person.agency][person.unit])
        if person.opted_in:
            recognition.join(session, asn)
        if not person.active:
            asn.status = AsnStatus.SUSPENDED
            session.add(asn)
            session.commit()
        asns.append(asn)
    start, _end = DECEMBER.bounds(JAYAPURA)
    expected: dict[int, list[int]] = {}  # asn id -> [verified, clicks] (agency 0, on board)
    seen: set[tuple[int, int]] = set()
    for event in events:
        if event.person >= len(asns):
            continue
        asn, person = asns[event.person], people[event.person]
        at = start + timedelta(hours=event.hours)
        post = make_post(session, campaigns[person.agency], authors[person.agency])
        assignment = Assignment(
            post_id=post.id or 0,
            campaign_id=post.campaign_id,
            unit_id=asn.unit_id,
            asn_id=asn.id,
            platform="x",
            code=f"hyp{next(_codes)}",
            deadline=at,
            status=AssignmentStatus.VERIFIED if event.kind == "verified" else "reported",
            verified_at=at if event.kind == "verified" else None,
        )
        session.add(assignment)
        session.commit()
        if event.kind == "click":
            _clicks(session, assignment.id or 0, post, at, [event.visitor])
        counted = person.agency == 0 and person.opted_in and person.active
        in_month = 0 <= event.hours < 24 * 31
        if counted and in_month and event.kind != "reported":
            figures = expected.setdefault(asn.id or 0, [0, 0])
            if event.kind == "verified":
                figures[0] += 1
            elif event.visitor is None or (asn.id or 0, event.visitor) not in seen:
                figures[1] += 1
                if event.visitor is not None:
                    seen.add((asn.id or 0, event.visitor))
    if switched_off:
        recognition.set_agency_switch(session, make_user(session, agencies[0], Role.ADMIN), False)

    board = agency_board(session, agencies[0].id or 0, DECEMBER)

    for asn, person in zip(asns, people, strict=True):
        shown = person.opted_in and person.active and not (switched_off and person.agency == 0)
        assert (own_standing(session, asn, DECEMBER) is not None) == shown
    if switched_off:
        assert board is None
        return
    assert board is not None
    on_board = {
        asn.id
        for asn, p in zip(asns, people, strict=True)
        if p.agency == 0 and p.opted_in and p.active
    }
    assert {s.asn_id for s in board.entries} == on_board
    for line in board.entries:
        assert [line.verified, line.clicks] == expected.get(line.asn_id, [0, 0])
    _assert_ranked(board)
    for unit in units[0]:
        assert {s.asn_id for s in board.unit(unit.id or 0).entries} <= on_board


def _assert_ranked(board: Board) -> None:
    for before, after in zip(board.entries, board.entries[1:], strict=False):
        assert (before.verified, before.clicks) >= (after.verified, after.clicks)
        tied = (before.verified, before.clicks) == (after.verified, after.clicks)
        assert after.rank == (before.rank if tied else board.entries.index(after) + 1)


def test_units_are_read_from_the_asn_not_the_assignment(session: Session) -> None:
    agency = make_agency(session)
    old, new = make_unit(session, agency), make_unit(session, agency)
    asn = make_asn(session, old)
    recognition.join(session, asn)
    _verified(session, _post(session, agency), asn, MID_DECEMBER)
    asn.unit_id = new.id or 0  # moved to another unit this month
    session.add(asn)
    session.commit()

    mine = own_standing(session, asn, DECEMBER)

    assert mine is not None
    assert mine.unit_name == session.get_one(Unit, new.id).name
    assert mine.unit.verified == 1
