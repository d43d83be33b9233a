"""The time-to-notify estimate before approval: per messenger, recipients, rate, backlog,
time to the last one, and the WhatsApp cost; urgent posts jump the normal queue."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from channels import webpush
from content.models import Campaign, CampaignKind, Post, PostStatus
from gaung.db import utcnow
from gaung.settings import get_settings
from kernel.outbox import OutboxMessage, OutboxStatus
from roster.models import Asn, Unit
from scheduler.notify_estimate import estimate
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user


def _person(session: Session, unit: Unit, messenger: str, **values: object) -> Asn:
    person = make_asn(session, unit)
    person.messenger = messenger
    if messenger == "telegram":
        person.telegram_chat_id = f"{person.id}00"
    if messenger == "whatsapp":
        person.phone = f"+62812{person.id:07d}"
    for name, value in values.items():
        setattr(person, name, value)
    session.add(person)
    session.commit()
    return person


def _subscribe(session: Session, person: Asn) -> None:
    assert person.id is not None
    endpoint = f"https://push.example.net/send/{person.id}"
    session.add(
        webpush.PushSubscription(
            asn_id=person.id,
            endpoint=endpoint,
            endpoint_hash=hashlib.sha256(endpoint.encode()).hexdigest(),
            origin="https://push.example.net",
            p256dh="BP" + "A" * 85,
            auth="c2VjcmV0",
        )
    )
    session.commit()


def _queued(session: Session, messenger: str, count: int, *, priority: int = 0) -> None:
    person = make_asn(session, make_unit(session, make_agency(session)), platforms=())
    assert person.id is not None
    for n in range(count):
        session.add(
            OutboxMessage(
                key=f"backlog:{messenger}:{priority}:{n}:{person.id}",
                asn_id=person.id,
                messenger=messenger,
                subject="s",
                text="t",
                priority=priority,
                status=OutboxStatus.QUEUED if n % 2 else OutboxStatus.SENDING,
            )
        )
    session.commit()


def _post(session: Session, *, kind: str = CampaignKind.PROGRAM) -> tuple[Post, Campaign]:
    agency = make_agency(session)
    unit, other_unit = make_unit(session, agency), make_unit(session, agency)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency, author, kind=kind, units=[unit])
    post = make_post(session, campaign, author, status=PostStatus.SUBMITTED)
    for _ in range(3):
        _person(session, unit, "email")
    _person(session, unit, "email", digest=True)
    for _ in range(2):
        _person(session, unit, "telegram")
    _person(session, unit, "telegram", telegram_chat_id=None)  # no address: would fail
    for _ in range(2):
        _person(session, unit, "whatsapp")
    _subscribe(session, _person(session, unit, "whatsapp"))  # push first
    _subscribe(session, _person(session, unit, "telegram", telegram_chat_id=None))
    _person(session, unit, "email", consent_at=None)  # not eligible
    _person(session, other_unit, "email")  # not targeted
    make_asn(session, unit, followers=1)  # below the follower minimum
    return post, campaign


def test_recipients_are_counted_per_messenger_push_first(session: Session) -> None:
    post, campaign = _post(session)
    _queued(session, "email", 7)
    _queued(session, "email", 2, priority=1)
    _queued(session, "telegram", 5)

    found = estimate(session, post, campaign)

    by = {m.messenger: m for m in found.messengers}
    assert {slug: m.recipients for slug, m in by.items()} == {
        "email": 3,
        "telegram": 2,
        "whatsapp": 2,
        "webpush": 2,
    }
    assert (found.digest, found.no_address, found.urgent) == (1, 1, False)
    assert found.recipients == 9
    # A routine post waits behind everything queued, urgent or not.
    assert by["email"].backlog == 9
    assert by["email"].rate == 10.0
    assert by["email"].seconds == pytest.approx((9 + 3) / 10)
    assert by["telegram"].seconds == pytest.approx((5 + 2) / 30)
    assert by["webpush"].rate == get_settings().webpush.estimated_rate
    assert found.skipped == 0
    assert found.seconds == pytest.approx(1.2)


def test_whatsapp_costs_its_category_price_and_others_are_free(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    post, campaign = _post(session)
    whatsapp = get_settings().whatsapp
    monkeypatch.setattr(whatsapp, "prices", {"utility": 400.0, "marketing": 600.0})

    found = estimate(session, post, campaign)

    by = {m.messenger: m for m in found.messengers}
    assert (by["whatsapp"].price, by["whatsapp"].cost) == (400.0, 800.0)
    assert by["email"].cost is None
    assert by["webpush"].cost is None
    assert found.cost == 800.0
    monkeypatch.setattr(whatsapp, "notice_category", "marketing")
    assert estimate(session, post, campaign).cost == 1200.0


def test_an_urgent_clarification_jumps_the_normal_queue_and_reaches_digest_readers(
    session: Session,
) -> None:
    post, campaign = _post(session, kind=CampaignKind.HOAX_CLARIFICATION)
    _queued(session, "email", 7)
    _queued(session, "email", 2, priority=1)

    found = estimate(session, post, campaign)

    email = next(m for m in found.messengers if m.messenger == "email")
    assert found.urgent
    assert found.digest == 0
    assert email.recipients == 4  # the digest reader is told at once
    assert (email.backlog, email.skipped) == (2, 7)
    assert email.seconds == pytest.approx((2 + 4) / 10)
    assert found.skipped == 7
    assert found.starts_at is None


def test_a_scheduled_routine_post_starts_at_its_time(session: Session) -> None:
    post, campaign = _post(session)
    post.scheduled_at = utcnow() + timedelta(days=1)
    assert estimate(session, post, campaign).starts_at == post.scheduled_at
    post.urgent = True
    assert estimate(session, post, campaign).starts_at is None


def test_nobody_eligible_is_an_empty_estimate(session: Session) -> None:
    agency = make_agency(session)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency, author, units=[make_unit(session, agency)])
    post = make_post(session, campaign, author, status=PostStatus.SUBMITTED)

    found = estimate(session, post, campaign)

    assert (found.messengers, found.recipients, found.seconds, found.cost) == ([], 0, 0.0, None)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    counts=st.fixed_dictionaries({m: st.integers(0, 3) for m in ("email", "telegram", "whatsapp")}),
    backlog=st.integers(0, 40),
)
def test_time_to_the_last_is_backlog_plus_recipients_over_the_rate(
    session: Session, counts: dict[str, int], backlog: int
) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency, author, units=[unit])
    post = make_post(session, campaign, author, status=PostStatus.SUBMITTED)
    for messenger, count in counts.items():
        for _ in range(count):
            _person(session, unit, messenger)
    before = {m.messenger: m.backlog for m in estimate(session, post, campaign).messengers}
    _queued(session, "telegram", backlog)

    found = estimate(session, post, campaign)

    assert {m.messenger: m.recipients for m in found.messengers} == {
        m: n for m, n in counts.items() if n
    }
    rates = get_settings().rate_limits
    for m in found.messengers:
        ahead = before.get(m.messenger, 0) + (backlog if m.messenger == "telegram" else 0)
        assert m.backlog == ahead
        assert m.seconds == pytest.approx((ahead + m.recipients) / rates[m.messenger])
