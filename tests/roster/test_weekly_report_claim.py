"""A person's weekly report is claimed once, however many workers try at the same moment."""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from roster import weekly_report
from roster.models import Role
from tests.factories import make_agency, make_user

WORKERS = 6


def test_workers_claiming_the_same_week_at_once_get_it_once(db: Engine, session: Session) -> None:
    user = make_user(session, make_agency(session), Role.SUPERVISOR)
    assert user.id is not None
    start = threading.Barrier(WORKERS)
    won: list[bool] = []
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            won.append(weekly_report.claim(db, user.id or 0, "2026-W49"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(won) == [False] * (WORKERS - 1) + [True]
    (row,) = session.exec(select(weekly_report.WeeklyReportMail)).all()
    assert row.status == weekly_report.MailStatus.SENDING


def test_another_week_or_person_is_a_claim_of_its_own(db: Engine, session: Session) -> None:
    agency = make_agency(session)
    first, second = (make_user(session, agency, Role.SUPERVISOR) for _ in range(2))
    assert first.id is not None
    assert second.id is not None

    assert weekly_report.claim(db, first.id, "2026-W49")
    assert weekly_report.claim(db, first.id, "2026-W50")
    assert weekly_report.claim(db, second.id, "2026-W49")
    weekly_report.mark_sent(db, first.id, "2026-W49")
    assert not weekly_report.claim(db, first.id, "2026-W49")

    session.expire_all()
    rows = session.exec(select(weekly_report.WeeklyReportMail)).all()
    assert {(r.user_id, r.week, r.status) for r in rows} == {
        (first.id, "2026-W49", weekly_report.MailStatus.SENT),
        (first.id, "2026-W50", weekly_report.MailStatus.SENDING),
        (second.id, "2026-W49", weekly_report.MailStatus.SENDING),
    }
