"""Linking an ASN's Telegram chat: deep links out, bot updates in.

A bot cannot message someone who never wrote to it, and an ASN cannot know their
chat id. So the inbox gives the ASN a deep link ``https://t.me/<bot>?start=<token>``
with a one-time token (32 URL-safe characters, valid ``LINK_TTL``, only its SHA-256
stored). Opening it makes Telegram send ``/start <token>`` to the bot; the update
carries the chat id. Updates reach Gaung either way:

- webhook: Telegram POSTs each Update to ``/telegram/webhook/<secret>`` with the
  ``X-Telegram-Bot-Api-Secret-Token`` header (``setWebhook`` with ``secret_token``);
- polling: a job calls ``getUpdates`` with the offset stored in ``telegram_cursor``,
  for machines Telegram cannot reach. (Telegram refuses ``getUpdates`` with 409 while
  a webhook is set: the two are exclusive.)

Both feed :func:`handle_update`, which links the chat and queues a confirmation
through the outbox (key ``telegram:update:<update_id>``, so a redelivered update is
harmless). Whoever holds the token gets the ASN's notices (with sign-in links), which
is why it is single-use, short-lived and shown only inside the signed-in inbox.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import BigInteger
from sqlmodel import Field, Session, SQLModel, col, select

from channels import http
from channels.telegram import _error, _payload
from channels.telegram import messenger as telegram_messenger
from gaung import i18n
from gaung.db import utcnow
from gaung.i18n import gettext as _
from gaung.settings import TelegramSettings
from kernel.notices import Person, Rendered, message_row, queue_rows
from kernel.outbox import OutboxKind
from roster.models import Asn, AsnStatus

log = logging.getLogger(__name__)

LINK_TTL = timedelta(minutes=30)
TOKEN_BYTES = 24  # token_urlsafe(24): 32 characters; Telegram allows up to 64 [A-Za-z0-9_-]
# "/start <token>", also "/start@bot_name <token>" as some clients send it.
_START = re.compile(r"^/start(?:@\w+)?\s+([A-Za-z0-9_-]{16,64})\s*$")
POLL_LIMIT = 100


class TelegramCursor(SQLModel, table=True):
    """The next getUpdates offset (one row, id 1): updates below it are confirmed."""

    __tablename__ = "telegram_cursor"
    id: int = Field(default=1, primary_key=True)
    update_offset: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookActive(Exception):  # noqa: N818 - a state, reported as such
    """getUpdates answered 409: a webhook is set, so updates arrive there instead."""


class UpdatesUnavailable(Exception):  # noqa: N818
    """getUpdates failed; ``retry_after`` seconds when Telegram said so."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def settings() -> TelegramSettings:
    """Telegram settings as the messenger sees them (credentials from the console first)."""
    return telegram_messenger.settings


def linking_available(current: TelegramSettings | None = None) -> bool:
    """Whether an ASN can link Telegram now: a bot token and its username are configured."""
    s = current or settings()
    return bool(s.bot_token and s.bot_username)


def polling_enabled(current: TelegramSettings | None = None) -> bool:
    """Poll getUpdates unless updates come by webhook (a webhook secret is set)."""
    s = current or settings()
    return bool(s.bot_token) and not s.webhook_secret


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def deep_link(token: str, bot_username: str | None = None) -> str:
    username = (bot_username or settings().bot_username).lstrip("@")
    return f"https://t.me/{username}?start={token}"


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: datetime


def start_link(session: Session, asn: Asn) -> Link:
    """A new one-time deep link for the ASN, replacing any earlier one. Commits."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = utcnow() + LINK_TTL
    asn.telegram_link_hash = token_hash(token)
    asn.telegram_link_expires_at = expires_at
    session.add(asn)
    session.commit()
    return Link(deep_link(token), expires_at)


def pending_links(session: Session) -> int:
    """How many deep links are still waiting to be opened (polling is needed meanwhile)."""
    query = select(Asn.id).where(
        col(Asn.telegram_link_hash).is_not(None), col(Asn.telegram_link_expires_at) > utcnow()
    )
    return len(session.exec(query.limit(POLL_LIMIT)).all())


def start_token(update: dict[str, Any]) -> tuple[str, int] | None:
    """(token, chat id) of a private-chat ``/start <token>`` message, else None."""
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    chat, text = message.get("chat"), message.get("text")
    if not isinstance(chat, dict) or chat.get("type") != "private" or not isinstance(text, str):
        return None
    chat_id = chat.get("id")
    found = _START.match(text)
    if found is None or not isinstance(chat_id, int) or isinstance(chat_id, bool):
        return None
    return found.group(1), chat_id


def handle_update(session: Session, update: dict[str, Any]) -> int | None:
    """Link the chat of a ``/start <token>`` update to the token's ASN; the ASN id or None.

    Joins the caller's transaction (no commit). Anything else in the update is ignored.
    """
    parsed = start_token(update)
    if parsed is None:
        return None
    token, chat_id = parsed
    asn = session.exec(select(Asn).where(Asn.telegram_link_hash == token_hash(token))).first()
    expires = asn.telegram_link_expires_at if asn else None
    if asn is None or asn.id is None or expires is None or expires <= utcnow():
        log.info("telegram update %s: unknown or expired link token", update.get("update_id"))
        return None
    if asn.status == AsnStatus.LEFT:
        return None
    asn.telegram_chat_id = str(chat_id)
    asn.messenger = "telegram"
    asn.telegram_link_hash = None
    asn.telegram_link_expires_at = None
    session.add(asn)
    session.flush()
    _confirm(session, asn, chat_id, update.get("update_id"))
    log.info("telegram chat linked to ASN %s", asn.id)
    return asn.id


def _confirm(session: Session, asn: Asn, chat_id: int, update_id: object) -> None:
    """Tell the chat it is linked, through the outbox like every other message."""
    assert asn.id is not None
    with i18n.use_locale(asn.locale):
        subject = _("Telegram linked")
        text = _(
            "Your Telegram account is now linked to Gaung. New assignments and reminders"
            " will arrive in this chat."
        )
    person = Person(asn.id, asn.name, asn.locale, "telegram", str(chat_id))
    rendered = Rendered(subject, text, None, "", {})
    key = (
        f"telegram:update:{update_id}" if isinstance(update_id, int) else f"telegram:link:{asn.id}"
    )
    row = message_row(person, rendered, key=key, kind=OutboxKind.TELEGRAM_LINKED, priority=1)
    queue_rows(session.connection(), [row])


# --- polling ----------------------------------------------------------------------------


def get_updates(offset: int, current: TelegramSettings | None = None) -> list[dict[str, Any]]:
    """One non-blocking getUpdates call (timeout 0: a job never waits on the network)."""
    s = current or settings()
    url = f"{s.api_base_url.rstrip('/')}/bot{s.bot_token}/getUpdates"
    body = {"offset": offset, "limit": POLL_LIMIT, "timeout": 0, "allowed_updates": ["message"]}
    try:
        with http.client() as client:
            response = client.post(url, json=body)
    except httpx.TransportError as exc:
        # "from None": the cause carries the request, whose URL holds the token.
        raise UpdatesUnavailable(f"Telegram: {type(exc).__name__}") from None
    if response.status_code == 409:
        raise WebhookActive("a webhook is set; getUpdates is disabled")
    if response.status_code != 200:
        error = _error(response)
        raise UpdatesUnavailable(str(error), getattr(error, "retry_after", None))
    result = _payload(response).get("result")
    if not isinstance(result, list):
        raise UpdatesUnavailable("Telegram: unexpected getUpdates response")
    return [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]


def poll(session_factory: Any, current: TelegramSettings | None = None) -> int:
    """Fetch and handle pending updates, then store the next offset; returns how many linked.

    ``session_factory`` makes a Session (e.g. ``lambda: Session(engine)``). The offset is
    stored with the links in one transaction, so a crash re-reads the same updates, and
    handling them twice is harmless (the token is gone, the confirmation keyed).
    """
    with session_factory() as session:
        cursor = session.get(TelegramCursor, 1)
        offset = cursor.update_offset if cursor else 0
    updates = get_updates(offset, current)
    if not updates:
        return 0
    linked = 0
    with session_factory() as session, session.begin():
        for update in sorted(updates, key=lambda u: int(u["update_id"])):
            linked += handle_update(session, update) is not None
        cursor = session.get(TelegramCursor, 1, with_for_update=True)
        if cursor is None:
            cursor = TelegramCursor(id=1)
        newest = max(int(u["update_id"]) for u in updates) + 1
        cursor.update_offset = max(cursor.update_offset or 0, newest)
        cursor.updated_at = utcnow()
        session.add(cursor)
    return linked
