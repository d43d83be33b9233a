"""Telegram Bot API ``sendMessage`` over httpx.

The bot token is part of the request URL, so it must never reach an exception
message, a chained traceback or a log line: errors are built from the response
payload only, transport errors are re-raised without their cause, and a filter on
httpx's logger masks the token in its "HTTP Request: POST ..." lines.

Messages go out as plain text (no ``parse_mode``): the text part is already
readable, and plain text needs no escaping of campaign titles.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

from channels import http
from channels.credentials import overlay
from channels.messaging import (
    OutgoingMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
    parse_retry_after,
)
from gaung.settings import TelegramSettings, get_settings
from kernel.outbox import PersonMessenger

# Telegram's limit for one text message.
MAX_TEXT_LENGTH = 4096
_TOKEN_IN_PATH = re.compile(r"/bot[^/\s]+/")


class _MaskBotToken(logging.Filter):
    """Replace ``/bot<token>/`` in httpx's request log lines with ``/bot***/``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            record.msg = _TOKEN_IN_PATH.sub("/bot***/", message)
            record.args = None
        return True


_mask = _MaskBotToken()
if not any(isinstance(f, _MaskBotToken) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_mask)


def _payload(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(response: httpx.Response) -> PermanentSendError | TransientSendError:
    """Map a failed Bot API answer ({"ok": false, "error_code", "description", ...})."""
    data = _payload(response)
    description = str(data.get("description") or response.reason_phrase)
    code = response.status_code
    parameters = data.get("parameters")
    if not isinstance(parameters, dict):
        parameters = {}
    if code == 429:
        retry_after = parameters.get("retry_after")
        seconds = (
            float(retry_after)
            if isinstance(retry_after, int | float)
            else parse_retry_after(response.headers.get("Retry-After"))
        )
        return TransientSendError(retry_after=seconds, detail=f"Telegram {code}: {description}")
    if code >= 500:
        return TransientSendError(detail=f"Telegram {code}: {description}")
    if code == 401:
        return PermanentSendError("token")
    # 403 "bot was blocked by the user", 400 "chat not found", "message is too long", ...
    return PermanentSendError(f"Telegram {code}: {description}")


class TelegramMessenger:
    slug = "telegram"
    idempotent = False  # sendMessage has no idempotency key: a lost send is never repeated
    # The chat id is learnt when the person opens their link (channels.telegram_updates).
    person = PersonMessenger("telegram", "telegram_chat_id", "Telegram", carries_sign_in_link=True)

    def __init__(self, settings: TelegramSettings | None = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> TelegramSettings:
        return self._settings or overlay("telegram", get_settings().telegram)

    def configured(self) -> bool:
        return bool(self.settings.bot_token)

    def send(self, message: OutgoingMessage) -> SendResult:
        if not self.configured():
            raise PermanentSendError("token")
        if len(message.text) > MAX_TEXT_LENGTH:
            raise PermanentSendError(f"text longer than {MAX_TEXT_LENGTH} characters")
        body = {
            "chat_id": message.to,
            "text": message.text,
            "link_preview_options": {"is_disabled": True},
        }
        response = self._post(body)
        if response.status_code != 200:
            raise _error(response)
        data = _payload(response)
        result = data.get("result")
        if not data.get("ok") or not isinstance(result, dict) or "message_id" not in result:
            raise TransientSendError(detail="Telegram: unexpected response")
        return SendResult(provider_id=f"{message.to}:{result['message_id']}")

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        s = self.settings
        url = f"{s.api_base_url.rstrip('/')}/bot{s.bot_token}/sendMessage"
        try:
            with http.client() as client:
                return client.post(url, json=body)
        except httpx.TransportError as exc:
            # "from None": the cause carries the request, whose URL holds the token.
            raise TransientSendError(detail=f"Telegram: {type(exc).__name__}") from None


messenger = TelegramMessenger()
