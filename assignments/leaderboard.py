"""The monthly leaderboard: opted-in ASN ranked by verified reposts, then clicks.

Who is on it: ACTIVE ASN of the agency who opted in (roster.recognition), and nobody at
all when the agency has turned the leaderboard off. Everyone else never appears, not even
as a count.

What counts, per calendar month in the agency's time zone (one zone for the whole agency,
so its units' lists add up to its own):

- **verified reposts**: the ASN's assignments verified (``verified_at``) that month, except
  reposts later seen deleted (``flagged_gone_at``): a repost deleted after verification
  does not earn a place;
- **clicks**: visits to the ASN's tracking links that month, each visitor counted once a
  day (``COUNT(DISTINCT clicker)``, the day-salted visitor hash of assignments.tracking;
  clicks from before it existed count one each). Bots are never clicks, and clicking your
  own link all day long counts once a day.

Ranking: more verified reposts first; among equal verified reposts, more clicks first.
Equal on both is a tie: the same rank, and the next rank skips ("1, 2, 2, 4"), listed by
name. Everyone opted in is listed, with zero if they did nothing that month, so the
count of a list is the number of people in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func
from sqlmodel import Session, col, select

from assignments.models import Assignment, AssignmentStatus, Click
from gaung.db import utcnow
from gaung.errors import N_, GaungError
from roster.agencies import zone_of
from roster.models import Agency, Asn, AsnStatus, Unit
from roster.recognition import LeaderboardOptIn

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_YEAR = 2000


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, read in a time zone by :meth:`bounds`."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """ "2026-12" (what an ``<input type=month>`` sends); GaungError names the field."""
        found = _MONTH.match(text.strip())
        if found is None or not 1 <= int(found.group(2)) <= 12:
            raise GaungError(N_("Choose a month as year-month, e.g. 2026-12."), field="month")
        year = int(found.group(1))
        if year < FIRST_YEAR:
            raise GaungError(N_("Choose a month from %(year)s on."), field="month", year=FIRST_YEAR)
        return cls(year, int(found.group(2)))

    @classmethod
    def containing(cls, moment: datetime, zone: ZoneInfo) -> Month:
        there = moment.astimezone(zone)
        return cls(there.year, there.month)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def start(self, zone: ZoneInfo) -> datetime:
        """Midnight of the first day in ``zone``, as UTC."""
        return datetime(self.year, self.month, 1, tzinfo=zone).astimezone(UTC)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) of the month in ``zone``, as aware UTC times."""
        return self.start(zone), self.next().start(zone)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def current_month(agency: Agency | None, now: datetime | None = None) -> Month:
    """This month in the agency's zone (the leaderboard's default)."""
    return Month.containing(now or utcnow(), zone_of(agency))


@dataclass(frozen=True)
class Standing:
    """One person's line: their figures and rank in the list it belongs to."""

    rank: int
    asn_id: int
    name: str
    unit_id: int
    unit: str
    verified: int
    clicks: int


@dataclass(frozen=True)
class Board:
    """A ranked list (an agency's or one unit's) for one month."""

    month: Month
    entries: list[Standing]

    @property
    def size(self) -> int:
        return len(self.entries)

    def of(self, asn_id: int | None) -> Standing | None:
        return next((s for s in self.entries if s.asn_id == asn_id), None)

    def unit(self, unit_id: int) -> Board:
        """The unit's own list, ranked among its members only."""
        return Board(self.month, ranked(s for s in self.entries if s.unit_id == unit_id))


def ranked(lines: Iterable[Standing]) -> list[Standing]:
    """Lines ordered and ranked: verified desc, clicks desc; ties share a rank (1, 2, 2, 4)."""
    ordered = sorted(lines, key=lambda s: (-s.verified, -s.clicks, s.name.casefold(), s.asn_id))
    result: list[Standing] = []
    for index, line in enumerate(ordered):
        previous = result[-1] if result else None
        if previous is not None and (previous.verified, previous.clicks) == (
            line.verified,
            line.clicks,
        ):
            result.append(replace(line, rank=previous.rank))
        else:
            result.append(replace(line, rank=index + 1))
    return result


def agency_board(session: Session, agency_id: int, month: Month) -> Board | None:
    """The agency's ranked list for the month; None when the agency turned it off."""
    agency = session.get(Agency, agency_id)
    if agency is None or not agency.leaderboard:
        return None
    start, end = month.bounds(zone_of(agency))
    people = session.exec(
        select(Asn.id, Asn.name, Asn.unit_id, Unit.name)
        .join(LeaderboardOptIn, col(LeaderboardOptIn.asn_id) == col(Asn.id))
        .join(Unit, col(Unit.id) == col(Asn.unit_id))
        .where(Asn.agency_id == agency_id, Asn.status == AsnStatus.ACTIVE)
    ).all()
    verified = _verified(session, agency_id, start, end)
    clicks = _clicks(session, agency_id, start, end)
    lines = [
        Standing(0, asn_id, name, unit_id, unit, verified.get(asn_id, 0), clicks.get(asn_id, 0))
        for asn_id, name, unit_id, unit in people
        if asn_id is not None
    ]
    return Board(month, ranked(lines))


def _opted_in(agency_id: int) -> list[ColumnElement[bool]]:
    """Conditions on a query joined to Asn: the agency's opted-in, active ASN."""
    chosen = select(LeaderboardOptIn.asn_id)
    return [
        col(Asn.id).in_(chosen),
        col(Asn.agency_id) == agency_id,
        col(Asn.status) == AsnStatus.ACTIVE,
    ]


def _verified(session: Session, agency_id: int, start: datetime, end: datetime) -> dict[int, int]:
    rows = session.exec(
        select(Assignment.asn_id, func.count())
        .join(Asn, col(Asn.id) == col(Assignment.asn_id))
        .where(
            *_opted_in(agency_id),
            Assignment.status == AssignmentStatus.VERIFIED,
            col(Assignment.flagged_gone_at).is_(None),
            col(Assignment.verified_at) >= start,
            col(Assignment.verified_at) < end,
        )
        .group_by(col(Assignment.asn_id))
    ).all()
    return {asn_id: count for asn_id, count in rows if asn_id is not None}


def _clicks(session: Session, agency_id: int, start: datetime, end: datetime) -> dict[int, int]:
    visitors = func.count(func.distinct(Click.clicker)) + func.coalesce(
        func.sum(case((col(Click.clicker).is_(None), 1), else_=0)), 0
    )
    rows = session.exec(
        select(Assignment.asn_id, visitors)
        .select_from(Click)
        .join(Assignment, col(Assignment.id) == col(Click.assignment_id))
        .join(Asn, col(Asn.id) == col(Assignment.asn_id))
        .where(
            *_opted_in(agency_id),
            col(Click.at) >= start,
            col(Click.at) < end,
        )
        .group_by(col(Assignment.asn_id))
    ).all()
    return {asn_id: int(count) for asn_id, count in rows if asn_id is not None}


@dataclass(frozen=True)
class OwnStanding:
    """An opted-in ASN's place this month: in their unit and in their agency."""

    month: Month
    unit_name: str
    unit: Standing
    unit_size: int
    agency: Standing
    agency_size: int


def own_standing(session: Session, asn: Asn, month: Month) -> OwnStanding | None:
    """The ASN's ranks, or None when they are not on the board (not opted in, not active,
    or the agency turned it off)."""
    if asn.status != AsnStatus.ACTIVE or session.get(LeaderboardOptIn, asn.id) is None:
        return None  # not on it: no need to rank the agency
    board = agency_board(session, asn.agency_id, month)
    mine = board.of(asn.id) if board is not None else None
    if board is None or mine is None:
        return None
    unit_board = board.unit(asn.unit_id)
    in_unit = unit_board.of(asn.id)
    assert in_unit is not None
    return OwnStanding(month, mine.unit, in_unit, unit_board.size, mine, board.size)
