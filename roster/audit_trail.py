"""An agency's audit log as people read it: filtered, paged, and as a CSV for Excel.

The CSV is for Excel set to Indonesian: UTF-8 with a byte-order mark (or Excel reads it
as ANSI), semicolons between fields (Indonesian Excel uses the comma as its decimal
separator, so it splits on ";"), Indonesian column names, and times in the agency's
zone in a form Excel recognises, with the zone (WIB, WITA, WIT) in its own column.
Cells starting like a formula are quoted with an apostrophe so they stay text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, select

from gaung import spreadsheet
from gaung.errors import N_, GaungError
from kernel.audit import AuditLog
from roster.agencies import local, zone_of
from roster.models import Agency, User

PAGE_SIZE = 50
CSV_HEADERS = ("Waktu", "Zona waktu", "Pelaku", "Tindakan", "Objek", "ID objek", "Keterangan")


@dataclass(frozen=True)
class Filters:
    actor_id: int | None = None  # 0: the system (no person)
    action: str = ""
    since: date | None = None  # agency-local dates, both inclusive
    until: date | None = None


def parse_date(value: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise GaungError(N_("Enter a date as YYYY-MM-DD."), field=field) from None


def _conditions(agency: Agency, filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(AuditLog.agency_id) == agency.id]
    if filters.actor_id == 0:
        conditions.append(col(AuditLog.actor_id).is_(None))
    elif filters.actor_id is not None:
        conditions.append(col(AuditLog.actor_id) == filters.actor_id)
    if filters.action:
        conditions.append(col(AuditLog.action) == filters.action)
    zone = zone_of(agency)
    if filters.since is not None:
        conditions.append(col(AuditLog.at) >= datetime.combine(filters.since, time(), zone))
    if filters.until is not None:
        end = datetime.combine(filters.until + timedelta(days=1), time(), zone)
        conditions.append(col(AuditLog.at) < end)
    return conditions


@dataclass(frozen=True)
class Page:
    entries: list[AuditLog]
    total: int
    page: int
    pages: int


def entries(session: Session, agency: Agency, filters: Filters, page: int = 1) -> Page:
    conditions = _conditions(agency, filters)
    total = int(session.exec(select(func.count()).select_from(AuditLog).where(*conditions)).one())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    query = (
        select(AuditLog)
        .where(*conditions)
        .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return Page(list(session.exec(query)), total, page, pages)


def actions(session: Session, agency_id: int) -> list[str]:
    query = select(AuditLog.action).where(AuditLog.agency_id == agency_id).distinct()
    return sorted(session.exec(query))


def people(session: Session, agency_id: int) -> list[User]:
    query = select(User).where(User.agency_id == agency_id).order_by(col(User.name))
    return list(session.exec(query))


def csv_lines(session: Session, agency: Agency, filters: Filters) -> Iterator[str]:
    """The filtered log, newest first, as CSV lines (the first starts with the BOM).

    The cell rules are gaung.spreadsheet's; times keep their seconds here, since an audit
    trail is read to tell apart what happened in the same minute.
    """
    yield spreadsheet.BOM + spreadsheet.csv_line(CSV_HEADERS)
    query = (
        select(AuditLog)
        .where(*_conditions(agency, filters))
        .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
    )
    for entry in session.exec(query.execution_options(yield_per=500)):
        moment, label = local(entry.at, agency)
        yield spreadsheet.csv_line(
            [
                moment.strftime("%Y-%m-%d %H:%M:%S"),
                label,
                spreadsheet.text_cell(entry.actor_label),
                spreadsheet.text_cell(entry.action),
                spreadsheet.text_cell(entry.entity),
                "" if entry.entity_id is None else entry.entity_id,
                spreadsheet.text_cell(entry.detail),
            ]
        )
