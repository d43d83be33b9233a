"""Measured time to notify per post: from approval (or the dispatch of a scheduled post) to
the last message accepted and to 50% and 90% accepted; failed and unknown apart."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from assignments.notify_times import notify_times, started_at
from content.models import Campaign, Post, PostStatus
from gaung.db import utcnow
from kernel.outbox import OutboxKind, OutboxMessage, OutboxStatus
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

APPROVED = datetime(2026, 12, 5, 1, 0, tzinfo=utcnow().tzinfo)


def _post(session: Session, **values: object) -> Post:
    agency = make_agency(session)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency, author)
    post = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
    post.scheduled_at = None
    post.reviewed_at = APPROVED
    post.dispatched_at = APPROVED + timedelta(seconds=5)
    for name, value in values.items():
        setattr(post, name, value)
    session.add(post)
    session.commit()
    return post


def _messages(
    session: Session, post: Post, outcomes: list[tuple[str, float | None, str]]
) -> list[OutboxMessage]:
    """One ASN, assignment and notice per (status, seconds after approval, messenger)."""
    unit = make_unit(session, make_agency(session))
    rows = []
    for status, seconds, messenger in outcomes:
        person = make_asn(session, unit, platforms=["x"])
        assignment = make_assignment(session, post, person)
        row = OutboxMessage(
            key=f"post:{post.id}:asn:{person.id}",
            assignment_id=assignment.id,
            campaign_id=post.campaign_id,
            kind=OutboxKind.ASSIGNMENT,
            asn_id=person.id or 0,
            messenger=messenger,
            subject="s",
            text="t",
            status=status,
            sent_at=APPROVED + timedelta(seconds=seconds) if seconds is not None else None,
        )
        session.add(row)
        rows.append(row)
    session.commit()
    return rows


def test_times_to_half_ninety_percent_and_the_last_with_failures_apart(session: Session) -> None:
    post = _post(session)
    outcomes: list[tuple[str, float | None, str]] = [
        (OutboxStatus.SENT, 10.0 * n, "email" if n % 2 else "telegram") for n in range(1, 8)
    ]
    outcomes += [
        (OutboxStatus.FAILED, None, "whatsapp"),
        (OutboxStatus.UNKNOWN, None, "email"),
        (OutboxStatus.RESENT, None, "email"),
        (OutboxStatus.CANCELLED, None, "email"),
        (OutboxStatus.QUEUED, None, "webpush"),
    ]
    rows = _messages(session, post, outcomes)
    resent = rows[9]
    session.add(
        OutboxMessage(
            key=f"resend:{resent.id}",
            assignment_id=resent.assignment_id,
            campaign_id=post.campaign_id,
            kind=OutboxKind.ASSIGNMENT,
            asn_id=resent.asn_id,
            messenger="email",
            subject="s",
            text="t",
            status=OutboxStatus.SENT,
            sent_at=APPROVED + timedelta(seconds=100),
        )
    )
    # Another post of the campaign, and another kind of message, are not counted.
    campaign = session.get_one(Campaign, post.campaign_id)
    other = make_post(session, campaign, make_user(session, make_agency(session)))
    _messages(session, other, [(OutboxStatus.SENT, 1.0, "email")])
    session.add(
        OutboxMessage(
            key="reminder:x",
            assignment_id=rows[0].assignment_id,
            campaign_id=post.campaign_id,
            kind=OutboxKind.REMINDER,
            asn_id=rows[0].asn_id,
            messenger="email",
            subject="s",
            text="t",
            status=OutboxStatus.SENT,
            sent_at=APPROVED + timedelta(hours=5),
        )
    )
    session.commit()

    times = notify_times(session.connection(), post)

    assert (times.messages, times.accepted, times.failed, times.unknown) == (11, 8, 1, 1)
    assert (times.waiting, times.cancelled, times.done) == (1, 1, False)
    assert times.started_at == APPROVED
    assert times.last_seconds == 100.0
    assert times.p50 == 60.0  # the 6th of 11 accepted, 60 s after approval
    assert times.p90 is None  # 10 of 11 needed, 8 accepted
    by = {m.messenger: m for m in times.messengers}
    assert (by["email"].messages, by["email"].accepted, by["email"].unknown) == (6, 5, 1)
    assert by["email"].last_seconds == 100.0
    assert by["telegram"].last_seconds == 60.0
    assert (by["whatsapp"].failed, by["whatsapp"].last_seconds) == (1, None)
    assert by["webpush"].waiting == 1


def test_a_scheduled_post_is_timed_from_its_dispatch(session: Session) -> None:
    post = _post(session, scheduled_at=APPROVED + timedelta(days=1))
    post.dispatched_at = APPROVED + timedelta(days=1)
    _messages(session, post, [(OutboxStatus.SENT, 86400 + 30.0, "email")])

    times = notify_times(session.connection(), post)

    assert started_at(post) == APPROVED + timedelta(days=1)
    assert (times.last_seconds, times.p50, times.p90, times.done) == (30.0, 30.0, 30.0, True)
    post.urgent = True  # an urgent post goes at approval whatever its time said
    assert started_at(post) == APPROVED


def test_a_post_without_messages_has_no_times(session: Session) -> None:
    post = _post(session)
    times = notify_times(session.connection(), post)
    assert (times.messages, times.last_seconds, times.p50, times.p90) == (0, None, None, None)
    assert times.done


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sent=st.lists(st.integers(0, 10_000), min_size=0, max_size=12),
    failed=st.integers(0, 4),
)
def test_quantiles_are_the_kth_acceptance_over_all_messages(
    session: Session, sent: list[int], failed: int
) -> None:
    post = _post(session)
    outcomes: list[tuple[str, float | None, str]] = [
        (OutboxStatus.SENT, float(s), "email") for s in sent
    ] + [(OutboxStatus.FAILED, None, "telegram")] * failed

    _messages(session, post, outcomes)
    times = notify_times(session.connection(), post)

    total = len(sent) + failed
    ordered = sorted(sent)
    for q, found in ((0.5, times.p50), (0.9, times.p90)):
        k = max(1, math.ceil(q * total))
        expected = float(ordered[k - 1]) if total and len(sent) >= k else None
        assert found == pytest.approx(expected) if expected is not None else found is None
    assert times.last_seconds == (float(max(sent)) if sent else None)
