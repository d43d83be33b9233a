"""Telegram Bot API sendMessage, faked with respx using the documented payloads."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.messaging import (
    MESSENGERS,
    OutgoingMessage,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from channels.telegram import MAX_TEXT_LENGTH, TelegramMessenger
from gaung.settings import TelegramSettings
from tests.channels.conftest import TG_API, TG_TOKEN

SEND_URL = f"{TG_API}/bot{TG_TOKEN}/sendMessage"
MESSAGE = OutgoingMessage(
    to="987654321",
    subject="Penugasan baru",
    text="Halo Budi, ada penugasan baru: http://testserver/inbox",
    html="<p>ignored by Telegram</p>",
    idempotency_key="assignment-42",
)


@pytest.fixture
def tg_api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def _failure(code: int, description: str, **extra: object) -> httpx.Response:
    return httpx.Response(
        code, json={"ok": False, "error_code": code, "description": description, **extra}
    )


def _assert_token_hidden(error: BaseException) -> None:
    assert TG_TOKEN not in str(error)
    assert TG_TOKEN not in repr(error)
    assert TG_TOKEN not in "".join(traceback.format_exception(error))


def test_telegram_is_registered_and_needs_a_token() -> None:
    assert isinstance(MESSENGERS["telegram"], TelegramMessenger)
    assert not TelegramMessenger(TelegramSettings(bot_token="")).configured()
    with pytest.raises(PermanentSendError, match="token"):
        TelegramMessenger(TelegramSettings(bot_token="")).send(MESSAGE)


def test_a_sent_message_returns_its_chat_and_message_id(
    tg_api: respx.MockRouter, tg_settings: TelegramSettings
) -> None:
    route = tg_api.post(SEND_URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "ok": True,
                "result": {
                    "message_id": 4711,
                    "from": {"id": 123456789, "is_bot": True, "first_name": "Gaung"},
                    "chat": {"id": 987654321, "first_name": "Budi", "type": "private"},
                    "date": 1786935600,
                    "text": MESSAGE.text,
                },
            },
        )
    )
    result = TelegramMessenger(tg_settings).send(MESSAGE)
    assert result.provider_id == "987654321:4711"
    sent = json.loads(route.calls.last.request.content)
    assert sent["chat_id"] == "987654321"
    assert sent["text"] == MESSAGE.text
    assert "parse_mode" not in sent  # plain text, so titles need no escaping


@pytest.mark.parametrize(
    ("code", "description"),
    [
        (403, "Forbidden: bot was blocked by the user"),
        (400, "Bad Request: chat not found"),
        (403, "Forbidden: user is deactivated"),
    ],
)
def test_unreachable_chats_are_permanent(
    tg_api: respx.MockRouter, tg_settings: TelegramSettings, code: int, description: str
) -> None:
    tg_api.post(SEND_URL).mock(return_value=_failure(code, description))
    with pytest.raises(PermanentSendError) as caught:
        TelegramMessenger(tg_settings).send(MESSAGE)
    assert description in caught.value.reason
    _assert_token_hidden(caught.value)


def test_a_rejected_token_is_permanent_with_reason_token(
    tg_api: respx.MockRouter, tg_settings: TelegramSettings
) -> None:
    tg_api.post(SEND_URL).mock(return_value=_failure(401, "Unauthorized"))
    with pytest.raises(PermanentSendError) as caught:
        TelegramMessenger(tg_settings).send(MESSAGE)
    assert caught.value.reason == "token"


def test_flood_control_is_transient_with_the_given_wait(
    tg_api: respx.MockRouter, tg_settings: TelegramSettings
) -> None:
    tg_api.post(SEND_URL).mock(
        return_value=_failure(
            429, "Too Many Requests: retry after 17", parameters={"retry_after": 17}
        )
    )
    with pytest.raises(TransientSendError) as caught:
        TelegramMessenger(tg_settings).send(MESSAGE)
    assert caught.value.retry_after == 17
    _assert_token_hidden(caught.value)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
@given(status=st.integers(min_value=500, max_value=599))
def test_server_errors_are_transient(tg_settings: TelegramSettings, status: int) -> None:
    with respx.mock() as router:
        router.post(SEND_URL).mock(return_value=_failure(status, "Internal Server Error"))
        with pytest.raises(TransientSendError) as caught:
            TelegramMessenger(tg_settings).send(MESSAGE)
    assert caught.value.retry_after is None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
@given(status=st.integers(min_value=400, max_value=499).filter(lambda s: s != 429))
def test_other_client_errors_are_permanent(tg_settings: TelegramSettings, status: int) -> None:
    with respx.mock() as router:
        router.post(SEND_URL).mock(return_value=_failure(status, "Bad Request: something"))
        with pytest.raises(PermanentSendError):
            TelegramMessenger(tg_settings).send(MESSAGE)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out")],
)
def test_network_failures_are_transient_and_hide_the_token(
    tg_api: respx.MockRouter, tg_settings: TelegramSettings, failure: Exception
) -> None:
    tg_api.post(SEND_URL).mock(side_effect=failure)
    with pytest.raises(TransientSendError) as caught:
        TelegramMessenger(tg_settings).send(MESSAGE)
    _assert_token_hidden(caught.value)


def test_a_malformed_success_is_transient(
    tg_api: respx.MockRouter, tg_settings: TelegramSettings
) -> None:
    tg_api.post(SEND_URL).mock(return_value=httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(TransientSendError):
        TelegramMessenger(tg_settings).send(MESSAGE)


def test_a_too_long_text_is_permanent_without_calling_telegram(
    tg_api: respx.MockRouter, tg_settings: TelegramSettings
) -> None:
    route = tg_api.post(SEND_URL)
    long = OutgoingMessage(
        to="1", subject="s", text="x" * (MAX_TEXT_LENGTH + 1), html=None, idempotency_key="k"
    )
    with pytest.raises(PermanentSendError):
        TelegramMessenger(tg_settings).send(long)
    assert not route.called


def test_the_token_never_reaches_the_logs(
    tg_api: respx.MockRouter, tg_settings: TelegramSettings, caplog: pytest.LogCaptureFixture
) -> None:
    tg_api.post(SEND_URL).mock(
        side_effect=[
            httpx.Response(200, json={"ok": True, "result": {"message_id": 1}}),
            _failure(403, "Forbidden: bot was blocked by the user"),
        ]
    )
    messenger = TelegramMessenger(tg_settings)
    with caplog.at_level(logging.DEBUG):
        messenger.send(MESSAGE)
        with pytest.raises(SendError):
            messenger.send(MESSAGE)
    assert "sendMessage" in caplog.text  # httpx did log the requests ...
    assert TG_TOKEN not in caplog.text  # ... with the token masked
