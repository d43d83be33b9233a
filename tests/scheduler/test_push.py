"""Web Push first, the ASN's own messenger as the fallback, every notice once.

The push service is the sandbox's on a real port (it decrypts every notice); Telegram, the
fallback here, is respx. Nothing else is faked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from channels import webpush
from content.models import CampaignKind, PostStatus
from gaung.db import utcnow
from gaung.settings import TelegramSettings, get_settings
from kernel import ratelimit
from kernel.outbox import NO_ADDRESS, OutboxKind, OutboxMessage, OutboxStatus
from roster.models import Agency, Asn, Role
from scheduler.deliver import claim, deliver_due, mark_lost
from scheduler.dispatch import dispatch_post
from scheduler.reminders import send_reminders
from tests.channels.push_service import RunningPushService, running_push_service
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user

TG_TOKEN = "123456789:AAE-push-test-token"
TG_URL = f"https://api.telegram.org/bot{TG_TOKEN}/sendMessage"
_table = OutboxMessage.__table__  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def service() -> Iterator[RunningPushService]:
    with running_push_service() as running:
        yield running


@pytest.fixture(autouse=True)
def telegram(
    monkeypatch: pytest.MonkeyPatch, service: RunningPushService
) -> Iterator[respx.MockRouter]:
    """Telegram (the fallback) on respx; the local push service passed through; sandbox on."""
    settings = get_settings()
    monkeypatch.setattr(settings, "telegram", TelegramSettings(bot_token=TG_TOKEN))
    monkeypatch.setitem(settings.rate_limits, "telegram", 10_000.0)
    monkeypatch.setattr(settings.sandbox, "enabled", True)
    ratelimit.reset()
    service.reset()
    webpush.use_transport(None)
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        router.post(TG_URL).mock(
            return_value=httpx.Response(200, json={"ok": True, "result": {"message_id": 7}})
        )
        yield router
    webpush.use_transport(None)
    ratelimit.reset()


def _people(
    session: Session, service: RunningPushService, count: int, devices: int = 1
) -> tuple[list[Asn], dict[int, list[dict[str, Any]]], Agency]:
    """``count`` Telegram ASN, each with ``devices`` subscribed devices."""
    agency = make_agency(session)
    unit = make_unit(session, agency)
    people, subscriptions = [], {}
    for n in range(count):
        person = make_asn(session, unit, platforms=["x"])
        person.messenger, person.telegram_chat_id = "telegram", f"{5000 + n}"
        session.add(person)
        session.commit()
        assert person.id is not None
        subscriptions[person.id] = service.subscribe(devices)
        for data in subscriptions[person.id]:
            webpush.subscribe(session, person.id, data, label="Chrome on Android")
        people.append(person)
    return people, subscriptions, agency


def _id(person: Asn) -> int:
    assert person.id is not None
    return person.id


def _dispatch(
    session: Session, db: Engine, agency: Agency, kind: str = CampaignKind.PROGRAM
) -> int:
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, session.get_one(Agency, agency.id), editor, kind=kind)
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    assert post.id is not None
    assert campaign.id is not None
    dispatch_post(db, post.id)
    return campaign.id


def _messages(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def _make_due(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(update(_table).values(run_at=utcnow() - timedelta(seconds=1)))


def _drain(db: Engine, worker: str = "w1") -> None:
    for _ in range(20):
        if deliver_due(db, worker, limit=500) == 0:
            return
    raise AssertionError("the outbox did not drain")


def test_an_asn_with_a_device_is_notified_by_push_and_others_by_their_messenger(
    db: Engine, session: Session, service: RunningPushService, telegram: respx.MockRouter
) -> None:
    (pushed,), subs, agency = _people(session, service, 1, devices=2)
    other = make_asn(session, make_unit(session, agency), platforms=["x"])
    other.messenger, other.telegram_chat_id = "telegram", "999"
    session.add(other)
    session.commit()
    _dispatch(session, db, agency, kind=CampaignKind.HOAX_CLARIFICATION)

    by_asn = {m.asn_id: m for m in _messages(session)}
    assert by_asn[_id(pushed)].messenger == "webpush"
    assert by_asn[_id(other)].messenger == "telegram"

    before = utcnow()
    _drain(db)

    message = by_asn[_id(pushed)]
    session.refresh(message)
    assert message.status == OutboxStatus.SENT
    assert message.provider_id is not None
    assert message.provider_id.startswith("webpush:2:")
    # Recorded by the driver directly: stored as SQLAlchemy stores a time, so it reads back
    # and compares in SQL like any other.
    assert message.sent_at is not None
    assert before <= message.sent_at <= utcnow()
    assert (message.lease_until, message.last_error, message.worker) == (None, None, "w1")
    with db.connect() as conn:
        stamped = conn.scalars(
            select(_table.c.id).where(
                _table.c.messenger == "webpush",
                _table.c.sent_at >= before,
                _table.c.sent_at <= utcnow(),
            )
        ).all()
    assert stamped == [message.id]
    assert all(d.last_success_at is not None for d in webpush.devices(session, _id(pushed)))
    for data in subs[_id(pushed)]:
        (notice,) = service.messages(data)
        assert (
            notice["url"] == f"{get_settings().base_url.rstrip('/')}/inbox/{message.assignment_id}"
        )
        assert notice["urgent"] is True
        assert notice["title"] == message.subject
        assert notice["tag"] == f"gaung-assignment-{message.assignment_id}"
    sent = [
        json.loads(c.request.content)["chat_id"]
        for c in telegram.calls
        if "telegram" in str(c.request.url)
    ]
    assert sent == ["999"]  # the ASN with a device got nothing twice


def test_every_device_gone_removes_them_and_falls_back_to_the_asns_messenger(
    db: Engine, session: Session, service: RunningPushService, telegram: respx.MockRouter
) -> None:
    (person,), subs, agency = _people(session, service, 1, devices=2)
    first, second = subs[_id(person)]
    service.state.subscriptions[service.sid(first)].answer = 410
    service.state.subscriptions[service.sid(second)].answer = 404
    _dispatch(session, db, agency)

    deliver_due(db, "w1", limit=50)

    (message,) = _messages(session)
    assert message.messenger == "telegram"
    assert message.status == OutboxStatus.QUEUED
    assert message.attempts == 0
    assert "every device unsubscribed; handed to telegram" in (message.last_error or "")
    assert webpush.devices(session, _id(person)) == []

    _drain(db)
    (message,) = _messages(session)
    assert message.status == OutboxStatus.SENT
    assert message.provider_id == f"{person.telegram_chat_id}:7"
    assert len([c for c in telegram.calls if "telegram" in str(c.request.url)]) == 1
    assert service.state.stats()["received"] == 0


def test_a_failing_push_service_is_retried_then_the_messenger_takes_over(
    db: Engine,
    session: Session,
    service: RunningPushService,
    telegram: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings().scheduler, "max_attempts", 2)
    (person,), _, agency = _people(session, service, 1)
    _dispatch(session, db, agency)
    service.state.fail = 2

    deliver_due(db, "w1", limit=50)
    (message,) = _messages(session)
    assert message.messenger == "webpush"
    assert message.status == OutboxStatus.QUEUED
    assert "500" in (message.last_error or "")

    _make_due(db)
    deliver_due(db, "w1", limit=50)
    (message,) = _messages(session)
    assert message.messenger == "telegram"
    assert message.status == OutboxStatus.QUEUED

    _drain(db)
    (message,) = _messages(session)
    assert message.status == OutboxStatus.SENT
    assert len(webpush.devices(session, _id(person))) == 1  # a 500 forgets no device


def test_a_429_queues_the_notice_again_after_the_retry_after(
    db: Engine, session: Session, service: RunningPushService
) -> None:
    _, _, agency = _people(session, service, 1)
    _dispatch(session, db, agency)
    service.state.throttle, service.state.retry_after = 1, 120
    before = utcnow()

    deliver_due(db, "w1", limit=50)

    (message,) = _messages(session)
    assert message.messenger == "webpush"
    assert message.status == OutboxStatus.QUEUED
    assert before + timedelta(seconds=100) < message.run_at < before + timedelta(seconds=130)
    assert deliver_due(db, "w1", limit=50) == 0  # not due yet


def test_a_push_service_that_hangs_leaves_the_notice_unknown_and_never_resent(
    db: Engine,
    session: Session,
    service: RunningPushService,
    telegram: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings().webpush, "timeout_seconds", 0.5)
    _, _, agency = _people(session, service, 1)
    _dispatch(session, db, agency)
    service.state.hang, service.state.hang_seconds = 1, 2.0

    deliver_due(db, "w1", limit=50)
    _make_due(db)
    assert deliver_due(db, "w1", limit=50) == 0

    (message,) = _messages(session)
    assert message.status == OutboxStatus.UNKNOWN
    assert "no answer after sending" in (message.last_error or "")
    assert not [c for c in telegram.calls if "telegram" in str(c.request.url)]


def test_a_worker_killed_mid_batch_leaves_its_notices_unknown_not_sent_twice(
    db: Engine, session: Session, service: RunningPushService
) -> None:
    _, _, agency = _people(session, service, 3)
    _dispatch(session, db, agency)
    taken = claim(db, "dead-worker", messenger="webpush", limit=2)
    assert len(taken) == 2
    with db.begin() as conn:  # its lease runs out: the worker is gone
        conn.execute(update(_table).values(lease_until=utcnow() - timedelta(seconds=1)))

    assert mark_lost(db) == 2
    _drain(db)

    statuses = sorted(m.status for m in _messages(session))
    assert statuses == [OutboxStatus.SENT, OutboxStatus.UNKNOWN, OutboxStatus.UNKNOWN]
    assert service.state.stats()["received"] == 1


def test_two_workers_deliver_every_notice_exactly_once(
    db: Engine, session: Session, service: RunningPushService
) -> None:
    _, _, agency = _people(session, service, 40)
    _dispatch(session, db, agency)

    def work(name: str) -> None:
        while deliver_due(db, name, limit=7):
            pass

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stats = service.state.stats()
    assert stats["received"] == 40
    assert stats["duplicates"] == 0
    assert stats["rejected"] == 0
    assert {m.status for m in _messages(session)} == {OutboxStatus.SENT}


def test_reminders_go_by_push_and_an_asn_without_an_address_is_still_reached(
    db: Engine, session: Session, service: RunningPushService
) -> None:
    (person,), subs, agency = _people(session, service, 1)
    person.telegram_chat_id = None  # nowhere to reach them but their device
    session.add(person)
    session.commit()
    campaign_id = _dispatch(session, db, agency)
    assert send_reminders(db, campaign_id, 3) == 1

    kinds = {m.kind: m for m in _messages(session)}
    assert {m.messenger for m in kinds.values()} == {"webpush"}
    assert kinds[OutboxKind.ASSIGNMENT].status == OutboxStatus.QUEUED  # not "no address"

    _drain(db)
    assert {m.status for m in _messages(session)} == {OutboxStatus.SENT}
    assert len(service.messages(subs[_id(person)][0])) == 2


def test_without_an_address_a_failed_push_says_so_instead_of_vanishing(
    db: Engine, session: Session, service: RunningPushService
) -> None:
    (person,), subs, agency = _people(session, service, 1)
    person.telegram_chat_id = None
    session.add(person)
    session.commit()
    service.state.subscriptions[service.sid(subs[_id(person)][0])].answer = 410
    _dispatch(session, db, agency)

    _drain(db)

    (message,) = _messages(session)
    assert message.status == OutboxStatus.FAILED
    assert message.last_error is not None
    assert message.last_error.endswith(f"telegram: {NO_ADDRESS}")


def test_a_push_batch_goes_out_beside_the_rate_limited_messengers_own_limit(
    db: Engine,
    session: Session,
    service: RunningPushService,
    telegram: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pushes are claimed by the batch (scheduler.batch_claim), the messengers bound by a
    shared rate window by ``limit``; both in the same call."""
    monkeypatch.setattr(get_settings().scheduler, "batch_claim", 2)
    _, _, agency = _people(session, service, 3)
    for n in range(2):
        other = make_asn(session, make_unit(session, agency), platforms=["x"])
        other.messenger, other.telegram_chat_id = "telegram", f"77{n}"
        session.add(other)
        session.commit()
    _dispatch(session, db, agency)

    assert deliver_due(db, "w1", limit=1) == 2 + 1  # a batch of pushes and one other
    assert deliver_due(db, "w1", limit=1) == 1 + 1  # the last push and the last other

    assert {m.status for m in _messages(session)} == {OutboxStatus.SENT}
    assert service.state.stats()["received"] == 3
