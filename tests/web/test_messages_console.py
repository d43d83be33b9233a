"""Humas' view of undelivered messages: who, which messenger, why, and what to do about it.

Messages fail for real here: dispatch writes them, ``deliver_due`` sends them to respx
fakes of the Telegram and WhatsApp APIs answering with their documented errors.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from content.models import Campaign, Post, PostStatus
from gaung.db import utcnow
from gaung.settings import TelegramSettings, WhatsAppSettings, get_settings
from kernel import ratelimit
from kernel.audit import AuditLog
from kernel.outbox import OutboxMessage, OutboxStatus
from roster.models import Agency, Asn, Role, Unit, User
from scheduler.deliver import LOST, claim, deliver_due, mark_lost
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import csrf_from, login_staff

TG_TOKEN = "123456789:AAE-console-test-token"
TG_URL = f"https://api.telegram.org/bot{TG_TOKEN}/sendMessage"
WA_URL = "https://graph.facebook.com/v24.0/106540352242922/messages"
BLOCKED = "Forbidden: bot was blocked by the user"
EN = {"Accept-Language": "en"}
_table = OutboxMessage.__table__  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def providers(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    """Telegram and WhatsApp behind respx, limits high enough never to wait."""
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


def _telegram_by_chat(blocked: set[str]) -> Any:
    """Answer sendMessage like Telegram: 403 for chats that blocked the bot, else ok."""

    def answer(request: httpx.Request) -> httpx.Response:
        chat = str(json.loads(request.content)["chat_id"])
        if chat in blocked:
            body = {"ok": False, "error_code": 403, "description": BLOCKED}
            return httpx.Response(403, json=body)
        return httpx.Response(200, json={"ok": True, "result": {"message_id": 7}})

    return answer


class World:
    def __init__(self, session: Session) -> None:
        agency = make_agency(session)
        self.agency = agency
        self.unit: Unit = make_unit(session, agency)
        self.editor: User = make_user(session, agency, Role.EDITOR)
        self.session = session

    def asn(self, name: str, chat: str | None = None, **changes: object) -> Asn:
        person = make_asn(self.session, self.unit, platforms=["x"])
        person.name = name
        person.messenger = "telegram"
        person.telegram_chat_id = chat
        for key, value in changes.items():
            setattr(person, key, value)
        self.session.add(person)
        self.session.commit()
        return person

    def dispatch(self, db: Engine) -> Post:
        agency = self.session.get_one(Agency, self.agency.id)
        campaign = make_campaign(self.session, agency, self.editor)
        post = make_post(self.session, campaign, self.editor, status=PostStatus.APPROVED)
        assert post.id is not None
        dispatch_post(db, post.id)
        return post


def _message_of(session: Session, person: Asn, post: Post | None = None) -> OutboxMessage:
    """The person's latest message (about the post's campaign, if given)."""
    session.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.asn_id == person.id)
    if post is not None:
        query = query.where(OutboxMessage.campaign_id == post.campaign_id)
    return session.exec(query.order_by(col(OutboxMessage.id))).all()[-1]


def _lose_in_flight(db: Engine) -> None:
    """A worker claims every queued message, then dies before recording anything."""
    claim(db, "doomed", messenger="telegram", limit=100)
    with db.begin() as conn:
        conn.execute(update(_table).values(lease_until=utcnow() - timedelta(seconds=1)))
    mark_lost(db)


def _act(client: TestClient, message: OutboxMessage, action: str, **kwargs: Any) -> httpx.Response:
    token = csrf_from(client, "/console/messages")
    response: httpx.Response = client.post(
        f"/console/messages/{message.id}/{action}",
        data={"csrf_token": token, "scope": "campaign"},
        **kwargs,
    )
    return response


def test_failed_and_unknown_messages_are_listed_with_who_and_why(
    client: TestClient, db: Engine, session: Session, providers: respx.MockRouter
) -> None:
    world = World(session)
    blocked = world.asn("Andi Blokir", "1001")
    fine = world.asn("Budi Lancar", "1002")
    nowhere = world.asn("Citra Tanpa Chat", None)
    post = world.dispatch(db)
    providers.post(TG_URL).mock(side_effect=_telegram_by_chat({"1001"}))
    deliver_due(db, "w1", limit=10)
    lost = world.asn("Dedi Hilang", "1004")
    world.dispatch(db)  # a second campaign: its notice to Dedi is lost mid-send
    _lose_in_flight(db)
    login_staff(client, world.editor)

    page = client.get(f"/console/campaigns/{post.campaign_id}/messages", headers=EN)
    everywhere = client.get("/console/messages", headers=EN)

    text = html.unescape(page.text)
    assert page.status_code == 200
    assert "Andi Blokir" in text
    assert BLOCKED in text
    assert "Citra Tanpa Chat" in text
    assert "no address" in text
    assert "Budi Lancar" not in text
    assert "Dedi Hilang" not in text  # another campaign
    whole = html.unescape(everywhere.text)
    for name in ("Andi Blokir", "Citra Tanpa Chat", "Dedi Hilang"):
        assert name in whole
    assert "Outcome unknown" in whole
    assert LOST in whole
    assert _message_of(session, fine, post).status == OutboxStatus.SENT
    assert _message_of(session, blocked, post).status == OutboxStatus.FAILED
    assert nowhere.id is not None
    assert lost.id is not None


def test_the_campaign_page_counts_messages_per_status(
    client: TestClient, db: Engine, session: Session, providers: respx.MockRouter
) -> None:
    world = World(session)
    world.asn("Andi", "1001")
    world.asn("Budi", "1002")
    world.asn("Citra", None)
    post = world.dispatch(db)
    providers.post(TG_URL).mock(side_effect=_telegram_by_chat({"1001"}))
    deliver_due(db, "w1", limit=10)
    login_staff(client, world.editor)

    page = client.get(f"/console/campaigns/{post.campaign_id}", headers=EN)

    assert "Failed: 2" in page.text
    assert "Sent: 1" in page.text
    assert "Undelivered messages (2)" in page.text


def test_a_message_that_ran_out_of_attempts_can_be_retried_and_then_goes_out(
    client: TestClient,
    db: Engine,
    session: Session,
    providers: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings().scheduler, "max_attempts", 1)
    world = World(session)
    person = world.asn("Eka", "2001")
    post = world.dispatch(db)
    down = {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    route = providers.post(TG_URL).mock(
        side_effect=[
            httpx.Response(502, json=down),
            httpx.Response(200, json={"ok": True, "result": {"message_id": 8}}),
        ]
    )
    deliver_due(db, "w1", limit=10)
    failed = _message_of(session, person)
    assert (failed.status, failed.retryable) == (OutboxStatus.FAILED, True)
    login_staff(client, world.editor)
    page = client.get(f"/console/campaigns/{post.campaign_id}/messages")
    assert f'action="/console/messages/{failed.id}/retry"' in page.text

    response = _act(client, failed, "retry", follow_redirects=False)
    deliver_due(db, "w1", limit=10)

    assert response.status_code == 303
    assert response.headers["location"] == f"/console/campaigns/{post.campaign_id}/messages"
    sent = _message_of(session, person)
    assert sent.id == failed.id  # the same message, same idempotency key
    assert sent.status == OutboxStatus.SENT
    assert route.call_count == 2
    (entry,) = session.exec(select(AuditLog).where(AuditLog.action == "message.retried")).all()
    assert (entry.entity_id, entry.actor_id) == (failed.id, world.editor.id)


def test_a_permanent_failure_cannot_be_retried(
    client: TestClient, db: Engine, session: Session, providers: respx.MockRouter
) -> None:
    world = World(session)
    person = world.asn("Fajar", "3001")
    world.dispatch(db)
    providers.post(TG_URL).mock(side_effect=_telegram_by_chat({"3001"}))
    deliver_due(db, "w1", limit=10)
    message = _message_of(session, person)
    login_staff(client, world.editor)

    page = _act(client, message, "retry", headers=EN)

    assert "Only a message that failed after temporary errors can be retried." in page.text
    assert _message_of(session, person).status == OutboxStatus.FAILED
    assert session.exec(select(AuditLog).where(AuditLog.action == "message.retried")).all() == []


def test_an_unknown_message_can_be_marked_as_sent(
    client: TestClient, db: Engine, session: Session
) -> None:
    world = World(session)
    person = world.asn("Gita", "4001")
    world.dispatch(db)
    _lose_in_flight(db)
    message = _message_of(session, person)
    login_staff(client, world.editor)

    _act(client, message, "mark-sent")

    assert _message_of(session, person).status == OutboxStatus.SENT
    (entry,) = session.exec(select(AuditLog).where(AuditLog.action == "message.marked_sent")).all()
    assert entry.entity_id == message.id


def test_resending_an_unknown_message_queues_one_copy_with_a_fresh_link(
    client: TestClient,
    db: Engine,
    session: Session,
    providers: respx.MockRouter,
) -> None:
    world = World(session)
    person = world.asn("Hadi", "5001")
    world.dispatch(db)
    _lose_in_flight(db)
    original = _message_of(session, person)
    route = providers.post(TG_URL).mock(side_effect=_telegram_by_chat(set()))
    login_staff(client, world.editor)

    _act(client, original, "resend")
    again = _act(client, original, "resend", headers=EN)  # a second click does nothing more
    deliver_due(db, "w1", limit=10)

    session.expire_all()
    rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    assert [(r.key, r.status) for r in rows] == [
        (original.key, OutboxStatus.RESENT),
        (f"resend:{original.id}", OutboxStatus.SENT),
    ]
    assert "Only a message whose outcome is unknown can be resent." in again.text
    (call,) = route.calls
    text = json.loads(call.request.content)["text"]
    assert re.search(r"http://testserver/inbox/login/\S+", text)
    assert len(session.exec(select(AuditLog).where(AuditLog.action == "message.resent")).all()) == 1


def test_whatsapp_invalid_numbers_reach_humas_as_failed(
    client: TestClient, db: Engine, session: Session, providers: respx.MockRouter
) -> None:
    world = World(session)
    person = world.asn("Intan", None, messenger="whatsapp", phone="+6200011122")
    post = world.dispatch(db)
    error = {
        "message": "(#131026) Message undeliverable",
        "type": "OAuthException",
        "code": 131026,
        "error_data": {"details": "Message Undeliverable."},
        "fbtrace_id": "AbCdEf123",
    }
    providers.post(WA_URL).mock(return_value=httpx.Response(400, json={"error": error}))
    deliver_due(db, "w1", limit=10)
    login_staff(client, world.editor)

    page = html.unescape(client.get(f"/console/campaigns/{post.campaign_id}/messages").text)

    message = _message_of(session, person)
    assert message.status == OutboxStatus.FAILED
    assert not message.retryable
    assert "Intan" in page
    assert "131026" in page
    assert f"/console/messages/{message.id}/retry" not in page


def test_supervisors_read_but_cannot_act(client: TestClient, db: Engine, session: Session) -> None:
    world = World(session)
    person = world.asn("Joko", "6001")
    post = world.dispatch(db)
    _lose_in_flight(db)
    message = _message_of(session, person)
    login_staff(client, make_user(session, world.agency, Role.SUPERVISOR))

    page = client.get(f"/console/campaigns/{post.campaign_id}/messages")
    response = _act(client, message, "resend")

    assert page.status_code == 200
    assert "Joko" in page.text
    assert "/resend" not in page.text
    assert response.status_code == 403
    assert _message_of(session, person).status == OutboxStatus.UNKNOWN


def test_another_agencys_messages_are_invisible_and_404(
    client: TestClient, db: Engine, session: Session
) -> None:
    world = World(session)
    person = world.asn("Kartika", "7001")
    post = world.dispatch(db)
    _lose_in_flight(db)
    message = _message_of(session, person)
    stranger = make_user(session, make_agency(session), Role.EDITOR)
    login_staff(client, stranger)

    assert "Kartika" not in client.get("/console/messages").text
    assert client.get(f"/console/campaigns/{post.campaign_id}/messages").status_code == 404
    assert _act(client, message, "mark-sent").status_code == 404
    assert _act(client, message, "explode").status_code == 404
    assert _message_of(session, person).status == OutboxStatus.UNKNOWN


def test_the_campaign_form_takes_reminder_times_and_names_a_bad_one(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    login_staff(client, make_user(session, agency))
    token = csrf_from(client, "/console/campaigns/new")
    data = {
        "csrf_token": token,
        "title": "Klarifikasi Vaksin",
        "kind": "program",
        "starts_at": "2036-08-17T10:00",
        "deadline": "2036-08-19T10:00",
    }

    bad = client.post("/console/campaigns", data={**data, "reminder_hours": "24, abc"}, headers=EN)
    good = client.post("/console/campaigns", data={**data, "reminder_hours": "3, 24h"})

    assert bad.status_code == 400
    assert 'id="reminder_hours-error"' in bad.text
    assert "“abc” is not a number of hours from 1 to 720." in html.unescape(bad.text)
    (campaign,) = session.exec(select(Campaign)).all()
    assert campaign.reminder_hours == "24,3"
    assert "24, 3 jam sebelum tenggat" in good.text
