"""Time to notify as pages show it: the estimate before approval (console approval queue and
post page) and the measured times after (post page, campaign dashboard), in the reader's
language with durations in words and Rupiah formatted by Babel.

The figures come from scheduler.notify_estimate and assignments.notify_times; this module
only names and formats them (the JSON API serves the same figures as numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from assignments.notify_times import NotifyTimes, notify_times
from channels import webpush
from content.models import Campaign, Post, PostStatus
from gaung.i18n import format_duration, format_money, format_number
from gaung.i18n import gettext as _
from kernel.outbox import PERSON_MESSENGERS
from scheduler import notify_estimate
from scheduler.notify_estimate import PostEstimate


def messenger_name(slug: str) -> str:
    if slug == webpush.SLUG:
        return _("Notifications on the device")
    spec = PERSON_MESSENGERS.get(slug)
    return _(spec.label) if spec else slug


def _rate(rate: float) -> str:
    shown = format_number(round(rate, 1) if rate < 10 else round(rate))
    return _("%(rate)s per second") % {"rate": shown}


@dataclass(frozen=True)
class EstimateRow:
    name: str
    recipients: str
    rate: str
    backlog: str
    duration: str
    cost: str | None


@dataclass(frozen=True)
class EstimateView:
    estimate: PostEstimate
    rows: list[EstimateRow]
    duration: str
    cost: str | None
    notes: list[str]


def estimate_view(session: Session, post: Post, campaign: Campaign) -> EstimateView | None:
    """The estimate of a post not sent yet, formatted; None once it went out."""
    if post.status not in notify_estimate.ESTIMATED:
        return None
    found = notify_estimate.estimate(session, post, campaign)
    rows = [
        EstimateRow(
            name=messenger_name(m.messenger),
            recipients=format_number(m.recipients),
            rate=_rate(m.rate),
            backlog=format_number(m.backlog),
            duration=format_duration(m.seconds),
            cost=format_money(m.cost) if m.cost is not None else None,
        )
        for m in found.messengers
    ]
    notes = []
    if found.urgent and found.skipped:
        notes.append(
            _(
                "Urgent: its notices go before the %(count)s normal messages already "
                "waiting, so only urgent messages are ahead of it."
            )
            % {"count": format_number(found.skipped)}
        )
    elif found.urgent:
        notes.append(_("Urgent: its notices go before every normal message waiting."))
    if found.starts_at is not None:
        notes.append(_("Counted from its scheduled time; the queue may differ by then."))
    if found.digest:
        notes.append(
            _("%(count)s ASN read the daily digest and get this post there instead.")
            % {"count": format_number(found.digest)}
        )
    if found.no_address:
        notes.append(
            _("%(count)s ASN have no address on their messenger; their notice would fail.")
            % {"count": format_number(found.no_address)}
        )
    if any(m.messenger == webpush.SLUG for m in found.messengers):
        notes.append(
            _(
                "Devices with notifications on are tried first; one that cannot be "
                "reached falls back to the person's messenger, which takes longer."
            )
        )
    return EstimateView(
        estimate=found,
        rows=rows,
        duration=format_duration(found.seconds),
        cost=format_money(found.cost) if found.cost is not None else None,
        notes=notes,
    )


@dataclass(frozen=True)
class TimesRow:
    name: str
    messages: str
    accepted: str
    failed: str
    unknown: str
    waiting: str
    last: str | None


@dataclass(frozen=True)
class TimesView:
    times: NotifyTimes
    last: str | None
    p50: str | None
    p90: str | None
    rows: list[TimesRow]


def _words(seconds: float | None) -> str | None:
    return format_duration(seconds) if seconds is not None else None


def times_view(conn: Connection, post: Post) -> TimesView | None:
    """The measured times of a post that went out, formatted; None before."""
    if post.status != PostStatus.DISPATCHED and post.dispatched_at is None:
        return None
    times = notify_times(conn, post)
    rows = [
        TimesRow(
            name=messenger_name(m.messenger),
            messages=format_number(m.messages),
            accepted=format_number(m.accepted),
            failed=format_number(m.failed),
            unknown=format_number(m.unknown),
            waiting=format_number(m.waiting),
            last=_words(m.last_seconds),
        )
        for m in times.messengers
    ]
    return TimesView(
        times=times,
        last=_words(times.last_seconds),
        p50=_words(times.p50),
        p90=_words(times.p90),
        rows=rows,
    )


def campaign_times(session: Session, campaign_id: int) -> list[tuple[int, TimesView]]:
    """(post id, measured times) of every post of the campaign that went out, oldest first."""
    posts = session.exec(
        select(Post)
        .where(Post.campaign_id == campaign_id, col(Post.dispatched_at).is_not(None))
        .order_by(col(Post.dispatched_at), col(Post.id))
    ).all()
    found = []
    for post in posts:
        view = times_view(session.connection(), post)
        if view is not None and post.id is not None:
            found.append((post.id, view))
    return found
