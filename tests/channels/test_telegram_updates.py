"""Linking an ASN's Telegram chat from the bot's updates (getUpdates polling; respx fakes).

Update payloads are shaped like the Bot API's documented ``Update`` objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from channels import telegram_updates
from channels.telegram_updates import (
    TelegramCursor,
    UpdatesUnavailable,
    WebhookActive,
    handle_update,
    poll,
    start_link,
    token_hash,
)
from gaung.db import utcnow
from gaung.settings import TelegramSettings, get_settings
from kernel import queue
from kernel.outbox import OutboxKind, OutboxMessage, OutboxStatus
from roster.models import Asn, AsnStatus
from scheduler.telegram_poll import KEY, schedule_poll, telegram_poll_job
from tests.factories import make_agency, make_asn, make_unit

TOKEN = "123456789:AAE-updates-test-token"
UPDATES_URL = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
BOT = "GaungKominfoBot"


@pytest.fixture(autouse=True)
def bot(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    """A configured bot (polling: no webhook secret) behind respx."""
    configured = TelegramSettings(bot_token=TOKEN, bot_username=BOT)
    monkeypatch.setattr(get_settings(), "telegram", configured)
    with respx.mock(assert_all_called=False) as router:
        yield router


def _update(
    update_id: int, text: str, chat_id: int = 777001, chat_type: str = "private"
) -> dict[str, Any]:
    """A message Update as the Bot API documents it."""
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat.update(first_name="Budi", username="budi_asn")
    else:
        chat["title"] = "Grup Humas"
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1365,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Budi", "language_code": "id"},
            "chat": chat,
            "date": 1763880000,
            "text": text,
            "entities": [{"offset": 0, "length": 6, "type": "bot_command"}],
        },
    }


def _ok(updates: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": updates})


def _asn(session: Session, **changes: object) -> Asn:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    for name, value in changes.items():
        setattr(asn, name, value)
    session.add(asn)
    session.commit()
    return asn


def _token(url: str) -> str:
    found = re.fullmatch(rf"https://t\.me/{BOT}\?start=([A-Za-z0-9_-]+)", url)
    assert found, url
    return found.group(1)


def _handle(session: Session, update: dict[str, Any]) -> int | None:
    """handle_update in its own committed transaction, as the webhook and the poller run it."""
    linked = handle_update(session, update)
    session.commit()
    return linked


def _reloaded(session: Session, asn: Asn) -> Asn:
    session.expire_all()
    return session.get_one(Asn, asn.id)


def test_a_deep_link_carries_a_one_time_token_that_is_stored_only_hashed(
    session: Session,
) -> None:
    asn = _asn(session)

    link = start_link(session, asn)

    token = _token(link.url)
    assert 16 <= len(token) <= 64
    stored = _reloaded(session, asn)
    assert stored.telegram_link_hash == token_hash(token)
    assert token not in (stored.telegram_link_hash or "")
    assert stored.telegram_link_expires_at == link.expires_at
    assert link.expires_at > utcnow() + timedelta(minutes=29)


def test_start_with_the_token_links_the_chat_and_confirms_through_the_outbox(
    session: Session,
) -> None:
    asn = _asn(session, locale="en")
    token = _token(start_link(session, asn).url)

    assert _handle(session, _update(500, f"/start {token}")) == asn.id

    stored = _reloaded(session, asn)
    assert stored.telegram_chat_id == "777001"
    assert stored.messenger == "telegram"
    assert stored.telegram_link_hash is None
    (message,) = session.exec(select(OutboxMessage)).all()
    assert message.key == "telegram:update:500"
    assert message.kind == OutboxKind.TELEGRAM_LINKED
    assert message.recipient == "777001"
    assert message.status == OutboxStatus.QUEUED
    assert "now linked to Gaung" in message.text


def test_the_start_command_may_name_the_bot(session: Session) -> None:
    asn = _asn(session)
    token = _token(start_link(session, asn).url)

    assert _handle(session, _update(501, f"/start@{BOT} {token}")) == asn.id


@pytest.mark.parametrize(
    "case", ["expired", "used twice", "group chat", "other token", "no token", "left"]
)
def test_links_that_must_not_work_do_nothing(session: Session, case: str) -> None:
    asn = _asn(session)
    token = _token(start_link(session, asn).url)
    text, chat_type = f"/start {token}", "private"
    if case == "expired":
        asn.telegram_link_expires_at = utcnow() - timedelta(seconds=1)
    elif case == "used twice":
        _handle(session, _update(600, text, chat_id=1))
        asn = _reloaded(session, asn)
    elif case == "group chat":
        chat_type = "group"
    elif case == "other token":
        text = "/start " + "x" * 32
    elif case == "no token":
        text = "/start"
    else:
        asn.status = AsnStatus.LEFT
    session.add(asn)
    session.commit()
    before = _reloaded(session, asn).telegram_chat_id

    assert _handle(session, _update(601, text, chat_id=2, chat_type=chat_type)) is None

    assert _reloaded(session, asn).telegram_chat_id == before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    update=st.fixed_dictionaries(
        {"update_id": st.integers()},
        optional={
            "message": st.dictionaries(
                st.sampled_from(["chat", "text", "from", "date"]), json_values, max_size=4
            )
        },
    )
)
def test_any_odd_update_is_ignored_without_error(session: Session, update: dict[str, Any]) -> None:
    assert _handle(session, update) is None


def test_polling_links_and_stores_the_next_offset(
    db: Engine, session: Session, bot: respx.MockRouter
) -> None:
    asn = _asn(session)
    token = _token(start_link(session, asn).url)
    route = bot.post(UPDATES_URL).mock(
        side_effect=[
            _ok([_update(41, "hello"), _update(42, f"/start {token}")]),
            _ok([]),
        ]
    )

    assert poll(lambda: Session(db)) == 1
    assert poll(lambda: Session(db)) == 0

    first, second = (json.loads(call.request.content) for call in route.calls)
    assert first["offset"] == 0
    assert first["timeout"] == 0  # a job never waits on the network
    assert first["allowed_updates"] == ["message"]
    assert second["offset"] == 43
    session.expire_all()
    assert session.get_one(TelegramCursor, 1).update_offset == 43
    assert _reloaded(session, asn).telegram_chat_id == "777001"


def test_a_redelivered_update_is_harmless(
    db: Engine, session: Session, bot: respx.MockRouter
) -> None:
    asn = _asn(session)
    token = _token(start_link(session, asn).url)
    update = _update(42, f"/start {token}")
    bot.post(UPDATES_URL).mock(return_value=_ok([update]))

    poll(lambda: Session(db))
    _handle(session, update)  # the same update again, e.g. by webhook

    assert len(session.exec(select(OutboxMessage)).all()) == 1


def test_an_active_webhook_stops_polling(db: Engine, bot: respx.MockRouter) -> None:
    body = {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: can't use getUpdates method while webhook is active;"
        " use deleteWebhook to delete the webhook first",
    }
    bot.post(UPDATES_URL).mock(return_value=httpx.Response(409, json=body))

    with pytest.raises(WebhookActive):
        poll(lambda: Session(db))


def test_flood_control_and_outages_hide_the_token(db: Engine, bot: respx.MockRouter) -> None:
    flood = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7"}
    flood["parameters"] = {"retry_after": 7}
    bot.post(UPDATES_URL).mock(
        side_effect=[httpx.Response(429, json=flood), httpx.ConnectError("boom")]
    )

    with pytest.raises(UpdatesUnavailable) as limited:
        poll(lambda: Session(db))
    assert limited.value.retry_after == 7
    with pytest.raises(UpdatesUnavailable) as down:
        poll(lambda: Session(db))
    assert TOKEN not in str(down.value)
    assert down.value.__cause__ is None


def test_the_poll_job_keeps_going_while_a_link_waits_and_stops_after(
    db: Engine, session: Session, bot: respx.MockRouter
) -> None:
    asn = _asn(session)
    token = _token(start_link(session, asn).url)
    bot.post(UPDATES_URL).mock(side_effect=[_ok([]), _ok([_update(9, f"/start {token}")])])

    with pytest.raises(queue.RetryLater) as again:
        telegram_poll_job(db, {})
    assert again.value.at <= utcnow() + timedelta(seconds=5)
    telegram_poll_job(db, {})  # linked: nothing left to wait for, so it finishes

    assert _reloaded(session, asn).telegram_chat_id == "777001"


def test_the_poll_job_waits_out_flood_control(
    db: Engine, session: Session, bot: respx.MockRouter
) -> None:
    start_link(session, _asn(session))
    flood = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 60"}
    flood["parameters"] = {"retry_after": 60}
    bot.post(UPDATES_URL).mock(return_value=httpx.Response(429, json=flood))

    with pytest.raises(queue.RetryLater) as later:
        telegram_poll_job(db, {})

    assert later.value.at >= utcnow() + timedelta(seconds=55)


def test_polling_is_queued_once_and_not_at_all_with_a_webhook(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = schedule_poll(session)
    second = schedule_poll(session)
    session.commit()
    assert first is not None
    assert second is not None
    assert first.id == second.id
    assert first.key == KEY

    webhook = TelegramSettings(bot_token=TOKEN, bot_username=BOT, webhook_secret="s3cret")
    monkeypatch.setattr(get_settings(), "telegram", webhook)
    assert not telegram_updates.polling_enabled()
    assert schedule_poll(session) is None
