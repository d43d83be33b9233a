"""The agency audit log: filters, pages, and a CSV that Indonesian Excel opens cleanly."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from sqlmodel import Session

from kernel import audit
from kernel.audit import AuditLog
from roster import audit_trail
from roster.models import Agency, Role
from tests.factories import make_agency, make_user


def _entry(session: Session, agency: Agency, at: datetime, **kw: object) -> AuditLog:
    row = audit.record(
        session,
        actor=kw.get("actor"),  # type: ignore[arg-type]
        action=str(kw.get("action", "post.approved")),
        entity="post",
        entity_id=1,
        agency_id=agency.id,
        detail=str(kw.get("detail", "")),
    )
    row.at = at
    session.commit()
    return row


def test_filters_by_person_action_and_local_dates(session: Session) -> None:
    agency, other = make_agency(session), make_agency(session)
    agency.timezone = "Asia/Jayapura"  # WIT, UTC+9
    admin = make_user(session, agency, Role.ADMIN)
    # 2026-03-01 16:30 UTC is already 2 March 01:30 WIT.
    late = _entry(session, agency, datetime(2026, 3, 1, 16, 30, tzinfo=UTC), actor=admin)
    early = _entry(session, agency, datetime(2026, 3, 1, 1, 0, tzinfo=UTC), action="x.y")
    _entry(session, other, datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    every = audit_trail.entries(session, agency, audit_trail.Filters())
    assert [e.id for e in every.entries] == [late.id, early.id]
    march2 = audit_trail.Filters(since=date(2026, 3, 2), until=date(2026, 3, 2))
    assert [e.id for e in audit_trail.entries(session, agency, march2).entries] == [late.id]
    by_admin = audit_trail.Filters(actor_id=admin.id)
    assert [e.id for e in audit_trail.entries(session, agency, by_admin).entries] == [late.id]
    system = audit_trail.Filters(actor_id=0, action="x.y")
    assert [e.id for e in audit_trail.entries(session, agency, system).entries] == [early.id]
    assert audit_trail.actions(session, agency.id or 0) == ["post.approved", "x.y"]


def test_pages(session: Session) -> None:
    agency = make_agency(session)
    for minute in range(audit_trail.PAGE_SIZE + 3):
        _entry(session, agency, datetime(2026, 1, 1, 0, minute % 60, tzinfo=UTC))
    first = audit_trail.entries(session, agency, audit_trail.Filters(), 1)
    last = audit_trail.entries(session, agency, audit_trail.Filters(), 99)
    assert (first.total, first.pages, len(first.entries)) == (53, 2, 50)
    assert (last.page, len(last.entries)) == (2, 3)


def test_csv_for_indonesian_excel(session: Session) -> None:
    agency = make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    _entry(
        session,
        agency,
        datetime(2026, 8, 17, 3, 0, tzinfo=UTC),
        actor=admin,
        detail='=HYPERLINK("x"); catatan, “kutipan”',
    )
    data = "".join(audit_trail.csv_lines(session, agency, audit_trail.Filters()))
    assert data.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(data.removeprefix("\ufeff")), delimiter=";"))
    assert rows[0] == list(audit_trail.CSV_HEADERS)
    assert rows[0][0] == "Waktu"
    when, zone, actor, action, *_rest, detail = rows[1]
    assert (when, zone) == ("2026-08-17 10:00:00", "WIB")
    assert actor.endswith(admin.email)
    assert action == "post.approved"
    assert detail.startswith("'=HYPERLINK")  # never run as a formula
    assert data.endswith("\r\n")
