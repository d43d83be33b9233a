"""Delivering the outbox: once, within limits, retried when worth it, never twice.

Only the network edge is faked (respx for the Telegram and WhatsApp APIs).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import respx
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from channels.messaging import MESSENGERS
from content.models import PostStatus
from gaung.db import utcnow
from gaung.settings import TelegramSettings, WhatsAppSettings, get_settings
from kernel import ratelimit
from kernel.outbox import INBOX_LINK, OutboxMessage, OutboxStatus
from roster.models import Agency, Asn, Role
from scheduler.deliver import LOST, claim, deliver_due, outgoing
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user

TG_TOKEN = "123456789:AAE-outbox-test-token"
TG_URL = f"https://api.telegram.org/bot{TG_TOKEN}/sendMessage"
WA_URL = "https://graph.facebook.com/v24.0/106540352242922/messages"
_table = OutboxMessage.__table__  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def messengers(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    """Telegram and WhatsApp pointed at respx; limits high enough to never wait long."""
    settings = get_settings()
    monkeypatch.setattr(settings, "telegram", TelegramSettings(bot_token=TG_TOKEN))
    monkeypatch.setattr(
        settings,
        "whatsapp",
        WhatsAppSettings(access_token="wa-token", phone_number_id="106540352242922"),
    )
    monkeypatch.setitem(settings.rate_limits, "telegram", 10_000.0)
    monkeypatch.setitem(settings.rate_limits, "whatsapp", 10_000.0)
    ratelimit.reset()
    with respx.mock(assert_all_called=False) as router:
        yield router
    ratelimit.reset()


def _ok(message_id: int = 7) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": {"message_id": message_id}})


def _tg_failure(code: int, description: str, **extra: object) -> httpx.Response:
    body = {"ok": False, "error_code": code, "description": description, **extra}
    return httpx.Response(code, json=body)


def _dispatched(session: Session, db: Engine, count: int = 1, **asn: object) -> list[Asn]:
    """``count`` Telegram ASN (unless overridden) with a dispatched post each was assigned."""
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency, Role.EDITOR)
    people = []
    for n in range(count):
        person = make_asn(session, unit, platforms=["x"])
        person.messenger = "telegram"
        person.telegram_chat_id = f"{1000 + n}"
        for name, value in asn.items():
            setattr(person, name, value)
        session.add(person)
        session.commit()
        people.append(person)
    campaign = make_campaign(session, session.get_one(Agency, agency.id), editor)
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    assert post.id is not None
    dispatch_post(db, post.id)
    return people


def _messages(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def _make_due(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(update(_table).values(run_at=utcnow() - timedelta(seconds=1)))


def test_delivery_sends_once_with_a_fresh_magic_link_and_marks_sent(
    db: Engine, session: Session, messengers: respx.MockRouter
) -> None:
    people = _dispatched(session, db, count=3)
    route = messengers.post(TG_URL).mock(return_value=_ok())

    assert deliver_due(db, "w1", limit=10) == 3
    assert deliver_due(db, "w1", limit=10) == 0

    assert route.call_count == 3
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert sorted(b["chat_id"] for b in bodies) == sorted(p.telegram_chat_id or "" for p in people)
    for body in bodies:
        assert "/inbox/login/" in body["text"]
        assert INBOX_LINK not in body["text"]
    for message in _messages(session):
        assert message.status == OutboxStatus.SENT
        assert message.provider_id == f"{message.recipient}:7"
        assert message.sent_at is not None
        assert message.attempts == 1
        assert message.lease_until is None


def test_a_429_requeues_the_message_at_the_providers_retry_after(
    db: Engine, session: Session, messengers: respx.MockRouter
) -> None:
    _dispatched(session, db)
    messengers.post(TG_URL).mock(
        return_value=_tg_failure(429, "Too Many Requests", parameters={"retry_after": 30})
    )
    before = utcnow()

    assert deliver_due(db, "w1", limit=10) == 1

    (message,) = _messages(session)
    assert message.status == OutboxStatus.QUEUED
    assert before + timedelta(seconds=30) <= message.run_at <= utcnow() + timedelta(seconds=30)
    assert message.last_error is not None
    assert "429" in message.last_error
    assert message.worker is None
    # Not due yet: nothing is claimed before the provider's time.
    assert deliver_due(db, "w1", limit=10) == 0


def test_a_5xx_is_retried_later_then_sent(
    db: Engine, session: Session, messengers: respx.MockRouter
) -> None:
    _dispatched(session, db)
    route = messengers.post(TG_URL).mock(side_effect=[_tg_failure(502, "Bad Gateway"), _ok(99)])

    deliver_due(db, "w1", limit=10)
    (message,) = _messages(session)
    assert message.status == OutboxStatus.QUEUED
    assert message.run_at > utcnow()

    _make_due(db)
    deliver_due(db, "w1", limit=10)

    (message,) = _messages(session)
    assert message.status == OutboxStatus.SENT
    assert message.attempts == 2
    assert message.provider_id == f"{message.recipient}:99"
    assert route.call_count == 2


def test_transient_failures_give_up_after_max_attempts(
    db: Engine, session: Session, messengers: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().scheduler, "max_attempts", 2)
    _dispatched(session, db)
    route = messengers.post(TG_URL).mock(return_value=_tg_failure(500, "Internal"))

    for _ in range(3):
        deliver_due(db, "w1", limit=10)
        _make_due(db)

    (message,) = _messages(session)
    assert message.status == OutboxStatus.FAILED
    assert route.call_count == 2


def test_a_blocked_bot_fails_permanently_with_the_reason(
    db: Engine, session: Session, messengers: respx.MockRouter
) -> None:
    _dispatched(session, db)
    route = messengers.post(TG_URL).mock(
        return_value=_tg_failure(403, "Forbidden: bot was blocked by the user")
    )

    deliver_due(db, "w1", limit=10)
    _make_due(db)
    deliver_due(db, "w1", limit=10)

    (message,) = _messages(session)
    assert message.status == OutboxStatus.FAILED
    assert message.last_error is not None
    assert "blocked" in message.last_error
    assert route.call_count == 1


def test_an_invalid_whatsapp_number_fails_permanently_with_the_reason(
    db: Engine, session: Session, messengers: respx.MockRouter
) -> None:
    (person,) = _dispatched(session, db, messenger="whatsapp", phone="+6200000")
    error = {
        "message": "(#100) Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "error_data": {"details": "phone number is not a valid WhatsApp number"},
    }
    route = messengers.post(WA_URL).mock(return_value=httpx.Response(400, json={"error": error}))

    deliver_due(db, "w1", limit=10)

    (message,) = _messages(session)
    assert message.status == OutboxStatus.FAILED
    assert message.last_error is not None
    assert message.last_error.startswith("recipient:")
    body = json.loads(route.calls.last.request.content)
    assert body["to"].endswith("6200000")
    assert body["template"]["name"] == message.template
    values = [p["text"] for p in body["template"]["components"][0]["parameters"]]
    assert values[0] == person.name
    assert "/inbox/login/" in values[3]


def test_messages_without_an_address_are_never_sent(
    db: Engine, session: Session, messengers: respx.MockRouter
) -> None:
    _dispatched(session, db, telegram_chat_id=None)
    route = messengers.post(TG_URL).mock(return_value=_ok())

    assert deliver_due(db, "w1", limit=10) == 0
    assert not route.called
    assert _messages(session)[0].status == OutboxStatus.FAILED


def test_a_worker_killed_between_send_and_record_never_causes_a_second_send(
    db: Engine, session: Session, messengers: respx.MockRouter
) -> None:
    (person,) = _dispatched(session, db)
    route = messengers.post(TG_URL).mock(return_value=_ok())
    # The doomed worker claims and sends, then dies before recording anything.
    (row,) = claim(db, "doomed", messenger="telegram", limit=10)
    MESSENGERS["telegram"].send(outgoing(row, person.login_epoch, person.name))
    with db.begin() as conn:
        conn.execute(update(_table).values(lease_until=utcnow() - timedelta(seconds=1)))

    assert deliver_due(db, "survivor", limit=10) == 0
    _make_due(db)
    assert deliver_due(db, "survivor", limit=10) == 0

    (message,) = _messages(session)
    assert message.status == OutboxStatus.UNKNOWN
    assert message.last_error == LOST
    assert route.call_count == 1


def test_a_live_lease_is_left_alone(
    db: Engine, session: Session, messengers: respx.MockRouter
) -> None:
    _dispatched(session, db)
    messengers.post(TG_URL).mock(return_value=_ok())
    claim(db, "busy", messenger="telegram", limit=10)

    assert deliver_due(db, "other", limit=10) == 0

    (message,) = _messages(session)
    assert message.status == OutboxStatus.SENDING
    assert message.worker == "busy"


def test_two_workers_never_claim_the_same_message(db: Engine, session: Session) -> None:
    _dispatched(session, db, count=6)

    first = claim(db, "w1", messenger="telegram", limit=4)
    second = claim(db, "w2", messenger="telegram", limit=4)

    assert len(first) == 4
    assert len(second) == 2
    assert not {r.id for r in first} & {r.id for r in second}


def test_a_claim_takes_no_more_than_the_rate_allows_within_the_horizon(
    db: Engine, session: Session, messengers: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(get_settings().rate_limits, "telegram", 1.5)
    ratelimit.reset()
    _dispatched(session, db, count=5)
    messengers.post(TG_URL).mock(return_value=_ok())
    # 1.5/s over the 2 s horizon: 3 claimed, and the bucket (capacity 1) lets the
    # first one through at once; the test waits for the other two (about 1.3 s).
    assert deliver_due(db, "w1", limit=100) == 3
    statuses = sorted(m.status for m in _messages(session))
    assert statuses == ["queued", "queued", "sent", "sent", "sent"]
