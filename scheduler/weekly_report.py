"""The weekly report e-mail to staff who asked for it (roster.weekly_report).

Every Monday at 00:00 UTC (07:00 WIB, 08:00 WITA, 09:00 WIT) the recurring ``weekly_report``
job fires once across the cluster (kernel.recurring) and queues one ``weekly_report_mail``
work item per subscriber, keyed ``weekly_report:<ISO week>:user:<id>``, so a second run
queues nothing new. Each item builds the person's report of the last whole week in their
agency's zone (assignments.weekly_report: the dashboard's figures): an HTML mail in their
language with the chart as an inline PNG, a plain-text alternative, and the week's XLSX
attached. It claims (person, week) in ``weekly_report_mail`` before sending, so a retry,
a second worker or a worker that died mid-send never sends it twice. Staff are not ASN:
like ``staff_mail``, this goes straight to the e-mail messenger, not the ASN outbox.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from assignments.reach import headline
from assignments.weekly_report import Week, WeeklyFigures, week_before, weekly_figures, weekly_xlsx
from channels.messaging import (
    MESSENGERS,
    Attachment,
    OutgoingMessage,
    PermanentSendError,
    TransientSendError,
    environment,
)
from gaung import i18n
from gaung.db import utcnow
from gaung.i18n import gettext as _
from gaung.settings import get_settings
from kernel import queue
from roster import weekly_report as subscriptions
from roster.agencies import zone_label, zone_of
from roster.models import Agency, User
from scheduler.weekly_chart import WIDTH, chart_png

log = logging.getLogger(__name__)

JOB = "weekly_report"
MAIL_JOB = "weekly_report_mail"
EVERY = timedelta(days=7)
# Periods count from Saturday 2000-01-01 (kernel.recurring): two days on is Monday 00:00 UTC.
AT = timedelta(days=2)
CHART_ID = "weekly-chart"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A bigger workbook is left out (mail servers refuse large messages; base64 adds a third):
# the mail then points to each campaign's XLSX on the dashboard.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def mail_key(week: str, user_id: int) -> str:
    return f"{JOB}:{week}:user:{user_id}"


def weekly_report_job(engine: Engine, payload: dict[str, Any]) -> None:
    """Queue this period's report of every subscriber (once each: keyed by week and person)."""
    period = datetime.fromisoformat(str(payload["period"]))
    queued = queue_reports(engine, period)
    log.info("weekly report of %s: %s mails queued", period.isoformat(), queued)


def queue_reports(engine: Engine, period: datetime) -> int:
    with Session(engine) as session:
        people = subscriptions.subscribers(session)
        for user in people:
            assert user.id is not None
            zone = zone_of(session.get(Agency, user.agency_id))
            week = week_before(period, zone)
            queue.enqueue(
                session,
                kind=MAIL_JOB,
                key=mail_key(week.iso, user.id),
                payload={"user_id": user.id, "period": period.isoformat()},
                run_at=period,
            )
        session.commit()
    return len(people)


def weekly_report_mail_job(engine: Engine, payload: dict[str, Any]) -> None:
    """Build and send one person's report, at most once (a transient failure retries)."""
    user_id = int(payload["user_id"])
    period = datetime.fromisoformat(str(payload["period"]))
    with Session(engine) as session:
        user = session.get(User, user_id)
        wanted = user is not None and user.active and subscriptions.may_subscribe(user)
        if user is None or not wanted or subscriptions.subscribed_since(session, user) is None:
            log.info("weekly report for user %s: no longer wanted; not sent", user_id)
            return
        agency = session.get(Agency, user.agency_id)
        zone = zone_of(agency)
        week = week_before(period, zone)
        figures = weekly_figures(session, user.agency_id, week)
        workbook = weekly_xlsx(session, figures, zone, zone_label(zone))
        message = compose(user, agency, figures, workbook)
    if not subscriptions.claim(engine, user_id, week.iso):
        log.info("weekly report %s for user %s: already sent or tried", week.iso, user_id)
        return
    try:
        MESSENGERS["email"].send(message)
    except TransientSendError:
        subscriptions.release(engine, user_id, week.iso)
        raise  # the queue retries with backoff
    except PermanentSendError as exc:
        log.warning("weekly report %s for user %s refused: %s", week.iso, user_id, exc)
        subscriptions.mark_failed(engine, user_id, week.iso, str(exc))
        return
    except BaseException:
        subscriptions.release(engine, user_id, week.iso)
        raise
    subscriptions.mark_sent(engine, user_id, week.iso)


def compose(
    user: User, agency: Agency | None, figures: WeeklyFigures, workbook: bytes
) -> OutgoingMessage:
    """The mail: subject, text and HTML in the person's language and zone, chart and XLSX."""
    assert user.id is not None
    zone = zone_of(agency)
    week = figures.week
    attach = len(workbook) <= MAX_ATTACHMENT_BYTES
    with i18n.use_locale(user.locale), i18n.use_zone(zone):
        span = _week_span(week, zone)
        bars = [(c.title, reach.total) for c, reach in figures.campaigns]
        context = {
            "name": user.name,
            "agency": agency.name if agency else "",
            "span": span,
            "headline": [(label, value) for _k, label, value in figures.headline.items()],
            "campaigns": [
                {
                    "title": campaign.title,
                    "deadline": i18n.format_datetime(campaign.deadline, "medium"),
                    "url": _dashboard_url(reach.campaign_id),
                    "figures": [(label, value) for _k, label, value in
                                headline(reach.total).items()],
                }
                for campaign, reach in figures.campaigns
            ],
            "chart_cid": CHART_ID,
            "chart_width": WIDTH,
            "made_at": i18n.format_datetime(utcnow(), "medium"),
            "dashboard_url": _dashboard_url(None),
            "account_url": f"{_base()}/console/account",
            "attached": attach,
            "megabytes": i18n.format_number(round(len(workbook) / 1024 / 1024, 1)),
        }  # fmt: skip
        subject = _("Weekly report %(week)s: %(span)s") % {"week": week.iso, "span": span}
        env = environment()
        text = env.get_template("weekly_report.txt.j2").render(context)
        html = env.get_template("weekly_report.html.j2").render(context)
    files: list[Attachment] = []
    if figures.campaigns:
        files.append(Attachment("grafik.png", "image/png", chart_png(bars), content_id=CHART_ID))
    if attach:
        files.append(Attachment(f"gaung-laporan-mingguan-{week.iso}.xlsx", XLSX, workbook))
    return OutgoingMessage(
        to=user.email,
        subject=subject,
        text=text,
        html=html,
        idempotency_key=mail_key(week.iso, user.id),
        attachments=tuple(files),
    )


def _week_span(week: Week, zone: ZoneInfo) -> str:
    """E.g. "30 Nov 2026 – 6 Des 2026 (WIB)": Monday to Sunday in the agency's zone."""
    last_day = week.end - timedelta(days=1)
    first, last = i18n.format_date(week.start, "medium"), i18n.format_date(last_day, "medium")
    return f"{first} – {last} ({zone_label(zone)})"


def _base() -> str:
    return get_settings().base_url.rstrip("/")


def _dashboard_url(campaign_id: int | None) -> str:
    if campaign_id is None:
        return f"{_base()}/dashboard"
    return f"{_base()}/dashboard/campaigns/{campaign_id}"
