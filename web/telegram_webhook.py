"""Telegram's webhook: the bot's updates pushed to ``/telegram/webhook/<secret>``.

Register it once with the Bot API (``setWebhook`` with ``url=<base_url>/telegram/webhook/
<secret>`` and ``secret_token=<secret>``); Telegram then sends the secret back in the
``X-Telegram-Bot-Api-Secret-Token`` header of every update. Both the path and the
header must match ``telegram.webhook_secret`` (Telegram allows ``A-Z a-z 0-9 _ -``, up
to 256 characters); anything else, or no secret configured, answers 404 like any
unknown page. The update is handled in the request (database work only, no call out)
and always acknowledged with 200, or Telegram would redeliver it for hours.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from channels import telegram_updates
from gaung.db import get_session

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name


def authentic(request: Request, secret: str) -> None:
    """Dependency (so it runs before the body is even parsed): 404 unless both secrets match."""
    expected = telegram_updates.settings().webhook_secret.encode()
    sent = request.headers.get(SECRET_HEADER, "").encode()
    # Both compared in constant time; "&" rather than "and" so neither check short-cuts.
    if not expected or not (
        secrets.compare_digest(secret.encode(), expected) & secrets.compare_digest(sent, expected)
    ):
        raise HTTPException(status_code=404)


@router.post("/telegram/webhook/{secret}")
def telegram_webhook(
    _authentic: None = Depends(authentic),
    update: dict[str, Any] = Body(...),
    session: Session = Depends(get_session),
) -> JSONResponse:
    asn_id = telegram_updates.handle_update(session, update)
    session.commit()
    if asn_id is not None:
        log.info("telegram webhook: chat linked to ASN %s", asn_id)
    return JSONResponse({"ok": True})
