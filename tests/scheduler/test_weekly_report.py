"""The weekly report e-mail, through a real SMTP server on loopback (aiosmtpd).

The recurring job queues one mail per subscriber, the worker loop runs them with the
registered ``email`` messenger, and the mail arrives with its figures, the chart inline and
the workbook attached; the figures are the dashboard's. Nothing is faked but the clock.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.reach import headline
from assignments.reach_snapshot import dashboard_reach
from assignments.weekly_report import week_before
from content.models import Campaign, PostStatus
from gaung import i18n
from gaung.settings import SmtpSettings, get_settings
from kernel import jobs, ratelimit, recurring
from kernel.models import WorkItem
from roster import weekly_report as subscriptions
from roster.models import Agency, Role, User
from scheduler import weekly_report
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from tests.scheduler.test_smtp_outbox import Inbox, _free_port

ZONE = "Asia/Makassar"  # WITA: the report speaks the agency's zone, not the server's
WITA = ZoneInfo(ZONE)


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on loopback; Gaung's SMTP settings point at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings = SmtpSettings(host="127.0.0.1", port=controller.port, sender="Gaung <g@humas.test>")
    monkeypatch.setattr(get_settings(), "smtp", settings)
    ratelimit.reset()
    try:
        yield inbox
    finally:
        controller.stop()


def _period() -> datetime:
    """The start of the current weekly period (a Monday 00:00 UTC, already due)."""
    spec = recurring.RECURRING[weekly_report.JOB]
    start = spec.period_start(datetime.now(UTC))
    assert start.weekday() == 0
    assert (start.hour, start.minute) == (0, 0)
    return start


def _seed(session: Session, period: datetime) -> tuple[Agency, Campaign, User, User, User]:
    """An agency in WITA with one campaign of the week: 1 verified, 1 reported, 1 pending."""
    agency = make_agency(session)
    agency.timezone = ZONE
    session.add(agency)
    session.commit()
    unit = make_unit(session, agency)
    editor = make_user(session, agency, Role.EDITOR)
    supervisor = make_user(session, agency, Role.SUPERVISOR)
    approver = make_user(session, agency, Role.APPROVER)
    week = week_before(period, WITA)
    middle = week.start + timedelta(days=2, hours=3)
    campaign = make_campaign(session, agency, editor)
    campaign.starts_at, campaign.deadline = middle, middle + timedelta(days=2)
    session.add(campaign)
    post = make_post(session, campaign, editor, status=PostStatus.DISPATCHED)
    people = [make_asn(session, unit) for _ in range(3)]
    states = [
        {"status": "verified", "followers_at_report": 1500, "reported_at": middle,
         "verified_at": middle + timedelta(hours=1)},
        {"status": "reported", "followers_at_report": 800, "reported_at": middle},
        {},
    ]  # fmt: skip
    for person, values in zip(people, states, strict=True):
        row = make_assignment(session, post, person, "x")
        row.created_at = middle
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
    session.commit()
    # An older campaign, over before the week began: not in the report.
    old = make_campaign(session, agency, editor)
    old.starts_at, old.deadline = week.start - timedelta(days=9), week.start - timedelta(days=8)
    session.add(old)
    old_post = make_post(session, old, editor, status=PostStatus.DISPATCHED)
    make_assignment(session, old_post, people[0], "x")
    session.commit()
    return agency, campaign, editor, supervisor, approver


def _run_week(db: Engine, period: datetime) -> None:
    weekly_report.weekly_report_job(db, {"period": period.isoformat()})
    jobs.run_due(db, "w1", limit=20)


def _part(mail: EmailMessage, content_type: str) -> EmailMessage:
    found = [p for p in mail.walk() if p.get_content_type() == content_type]
    assert len(found) == 1, [p.get_content_type() for p in mail.walk()]
    part = found[0]
    assert isinstance(part, EmailMessage)
    return part


def test_a_subscriber_gets_the_report_with_chart_inline_and_the_dashboards_figures_attached(
    db: Engine, session: Session, mailbox: Inbox
) -> None:
    period = _period()
    _agency, campaign, _editor, supervisor, approver = _seed(session, period)
    subscriptions.set_subscription(session, supervisor, True)

    _run_week(db, period)

    assert mailbox.recipients == [supervisor.email]  # the approver did not ask for it
    (mail,) = mailbox.received
    assert mail["Subject"].startswith("Laporan mingguan ")
    assert mail["Message-ID"].endswith("@humas.test>")
    text = _part(mail, "text/plain").get_content()
    html = _part(mail, "text/html").get_content()
    assert campaign.title in text
    assert campaign.title in html
    # The headline as the dashboard's tiles show it, in both parts.
    assert campaign.id is not None
    reach = dashboard_reach(session, campaign.id)
    with i18n.use_locale("id"):
        tiles = headline(reach.total).items()
        deadline = i18n.format_datetime(campaign.deadline, "medium", tz=ZONE)
    for _key, label, value in tiles:
        assert f"{label}: {value}" in text
        assert value in html
    assert deadline.endswith("WITA")
    assert deadline in text
    assert deadline in html
    # The chart travels inside the mail, referred to by its Content-ID.
    png = _part(mail, "image/png")
    assert png["Content-ID"] == f"<{weekly_report.CHART_ID}>"
    assert png.get_content_disposition() == "inline"
    assert png.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    assert f'src="cid:{weekly_report.CHART_ID}"' in html
    # The workbook: the dashboard's totals and every assignment of the week's campaigns.
    sheet = _part(mail, weekly_report.XLSX)
    assert sheet.get_content_disposition() == "attachment"
    assert (sheet.get_filename() or "").endswith(".xlsx")
    book = load_workbook(io.BytesIO(sheet.get_content()))
    totals = list(book["Ringkasan"].iter_rows(values_only=True))
    header = list(totals[0])
    everything = dict(zip(header, totals[1], strict=True))
    assert everything["Kampanye"] == "Semua kampanye"
    own = dict(zip(header, totals[2], strict=True))
    assert own["Kampanye"] == campaign.title
    for row in (everything, own):
        assert row["Penugasan"] == reach.total.assignments == 3
        assert row["Dilaporkan"] == reach.total.reported == 2
        assert row["Terverifikasi"] == reach.total.verified == 1
        assert row["Jangkauan potensial terverifikasi"] == reach.total.verified_reach == 1500
    listed = list(book["Penugasan"].iter_rows(values_only=True))
    assert len(listed) == 1 + 3  # header and the campaign's three assignments, not the old one
    assert {row[0] for row in listed[1:]} == {campaign.title}
    assert any("(WITA)" in str(name) for name in listed[0])
    # Recorded once for this person and week.
    session.expire_all()
    (sent,) = session.exec(select(subscriptions.WeeklyReportMail)).all()
    assert (sent.user_id, sent.status) == (supervisor.id, subscriptions.MailStatus.SENT)
    assert sent.week == week_before(period, WITA).iso
    assert approver.email not in mailbox.recipients


def test_running_the_week_twice_and_retrying_the_mail_sends_it_once(
    db: Engine, session: Session, mailbox: Inbox
) -> None:
    period = _period()
    _agency, _campaign, _editor, supervisor, _approver = _seed(session, period)
    subscriptions.set_subscription(session, supervisor, True)

    _run_week(db, period)
    _run_week(db, period)  # a second clock, a second worker
    item = session.exec(select(WorkItem).where(col(WorkItem.kind) == weekly_report.MAIL_JOB)).one()
    weekly_report.weekly_report_mail_job(db, json.loads(item.payload))  # a retried item

    assert len(mailbox.received) == 1
    assert item.key == weekly_report.mail_key(week_before(period, WITA).iso, supervisor.id or 0)


def test_a_send_whose_worker_died_is_not_repeated(
    db: Engine, session: Session, mailbox: Inbox
) -> None:
    period = _period()
    _agency, _campaign, _editor, supervisor, _approver = _seed(session, period)
    subscriptions.set_subscription(session, supervisor, True)
    assert supervisor.id is not None
    week = week_before(period, WITA).iso
    assert subscriptions.claim(db, supervisor.id, week)  # claimed, then the worker vanished
    (claimed,) = session.exec(select(subscriptions.WeeklyReportMail)).all()
    lease = timedelta(seconds=get_settings().scheduler.lease_seconds)
    claimed.claimed_at -= lease + timedelta(seconds=1)  # its item's lease has run out since
    session.add(claimed)
    session.commit()

    weekly_report.weekly_report_mail_job(
        db, {"user_id": supervisor.id, "period": period.isoformat()}
    )

    assert mailbox.received == []
    session.expire_all()
    (row,) = session.exec(select(subscriptions.WeeklyReportMail)).all()
    assert row.status == subscriptions.MailStatus.UNKNOWN


def test_an_unreachable_mail_server_means_retry_later_then_one_mail(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch, mailbox: Inbox
) -> None:
    period = _period()
    _agency, _campaign, _editor, supervisor, _approver = _seed(session, period)
    subscriptions.set_subscription(session, supervisor, True)
    working = get_settings().smtp
    closed = SmtpSettings(host="127.0.0.1", port=_free_port(), sender=working.sender)
    monkeypatch.setattr(get_settings(), "smtp", closed)
    payload = {"user_id": supervisor.id, "period": period.isoformat()}

    with pytest.raises(Exception, match="SMTP connection"):
        weekly_report.weekly_report_mail_job(db, payload)
    assert session.exec(select(subscriptions.WeeklyReportMail)).all() == []  # claim given back

    monkeypatch.setattr(get_settings(), "smtp", working)
    weekly_report.weekly_report_mail_job(db, payload)
    weekly_report.weekly_report_mail_job(db, payload)
    assert len(mailbox.received) == 1


def test_nobody_who_did_not_opt_in_or_turned_it_off_gets_mail(
    db: Engine, session: Session, mailbox: Inbox
) -> None:
    period = _period()
    _agency, _campaign, _editor, supervisor, approver = _seed(session, period)
    subscriptions.set_subscription(session, supervisor, True)
    subscriptions.set_subscription(session, supervisor, False)
    subscriptions.set_subscription(session, approver, True)
    approver.active = False  # deactivated since
    session.add(approver)
    session.commit()

    _run_week(db, period)

    assert mailbox.received == []
    assert (
        session.exec(select(WorkItem).where(col(WorkItem.kind) == weekly_report.MAIL_JOB)).all()
        == []
    )


def test_a_week_without_campaigns_says_so(db: Engine, session: Session, mailbox: Inbox) -> None:
    agency = make_agency(session)
    supervisor = make_user(session, agency, Role.SUPERVISOR)
    supervisor.locale = "en"
    session.add(supervisor)
    session.commit()
    subscriptions.set_subscription(session, supervisor, True)

    _run_week(db, _period())

    (mail,) = mailbox.received
    assert not [p for p in mail.walk() if p.get_content_type() == "image/png"]  # nothing to chart
    assert (
        "No campaign was dispatched or active this week." in _part(mail, "text/plain").get_content()
    )
    book = load_workbook(io.BytesIO(_part(mail, weekly_report.XLSX).get_content()))
    totals = list(book["Ringkasan"].iter_rows(values_only=True))
    assert totals[1][0] == "Semua kampanye"
    assert totals[1][totals[0].index("Penugasan")] == 0


def test_a_workbook_too_big_to_mail_is_left_out_and_the_mail_says_where_to_find_it(
    db: Engine, session: Session, mailbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    period = _period()
    _agency, _campaign, _editor, supervisor, _approver = _seed(session, period)
    subscriptions.set_subscription(session, supervisor, True)
    monkeypatch.setattr(weekly_report, "MAX_ATTACHMENT_BYTES", 1000)

    _run_week(db, period)

    (mail,) = mailbox.received
    assert not [p for p in mail.walk() if p.get_content_type() == weekly_report.XLSX]
    assert _part(mail, "image/png")["Content-ID"] == f"<{weekly_report.CHART_ID}>"
    text = _part(mail, "text/plain").get_content()
    assert "terlalu besar untuk dikirim lewat surel" in text
    assert "unduh XLSX setiap kampanye dari dasbor" in _part(mail, "text/html").get_content()


def test_someone_no_longer_in_a_role_the_report_is_for_gets_nothing(
    db: Engine, session: Session, mailbox: Inbox
) -> None:
    period = _period()
    _agency, _campaign, _editor, supervisor, _approver = _seed(session, period)
    subscriptions.set_subscription(session, supervisor, True)
    weekly_report.weekly_report_job(db, {"period": period.isoformat()})
    supervisor.role = Role.EDITOR  # changed by an admin after the item was queued
    session.add(supervisor)
    session.commit()

    jobs.run_due(db, "w1", limit=20)

    assert mailbox.received == []
