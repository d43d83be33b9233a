"""Polling Telegram for ``/start <token>`` while an ASN is linking their chat.

For machines Telegram's webhook cannot reach. Polling costs a call every few seconds,
so it only runs while someone is linking: the inbox queues it (``schedule_poll``) when
it hands out a deep link, and the job keeps itself going with ``RetryLater`` (one
work-item row, key ``telegram:poll``) until no unexpired link is left. It never blocks:
getUpdates is called with timeout 0 and the pause between calls is the queue's run_at.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels import telegram_updates
from gaung.db import utcnow
from kernel import queue
from kernel.models import WorkItem

log = logging.getLogger(__name__)

KEY = "telegram:poll"
POLL_EVERY = timedelta(seconds=3)


def schedule_poll(session: Session) -> WorkItem | None:
    """Start polling now (joins the caller's transaction); None when updates come by webhook."""
    if not telegram_updates.polling_enabled():
        return None
    now = utcnow()
    item = queue.enqueue(session, kind="telegram_poll", key=KEY, payload={}, run_at=now)
    queue.reschedule(session, KEY, now)  # a finished poller starts again; a running one goes on
    return item


def telegram_poll_job(engine: Engine, payload: dict[str, Any]) -> None:
    if not telegram_updates.polling_enabled():
        return
    try:
        linked = telegram_updates.poll(lambda: Session(engine, expire_on_commit=False))
    except telegram_updates.WebhookActive:
        log.warning("Telegram has a webhook set: set telegram.webhook_secret, not polling")
        return
    except telegram_updates.UpdatesUnavailable as exc:
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else POLL_EVERY * 5
        raise queue.RetryLater(utcnow() + wait, str(exc)) from exc
    if linked:
        log.info("telegram polling: %s chats linked", linked)
    with Session(engine) as session:
        waiting = telegram_updates.pending_links(session)
    if waiting:
        raise queue.RetryLater(utcnow() + POLL_EVERY, f"{waiting} Telegram links pending")
