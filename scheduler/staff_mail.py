"""The ``staff_mail`` job: e-mail a staff member their one-time link (roster.staff).

Staff are not ASN, so their links do not go through the ASN outbox: the console queues
one work item per link, with the token encrypted (gaung.crypto) in its payload, and this
job sends it through the e-mail messenger. A link already used, replaced or expired is
not sent. A transient SMTP failure raises, so the queue retries with backoff; a permanent
one is logged and the item completes (the admin can send a new link, or show it).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels.messaging import MESSENGERS, OutgoingMessage, PermanentSendError
from gaung.crypto import decrypt
from gaung.db import utcnow
from roster import staff
from roster.models import Agency, StaffToken, User

log = logging.getLogger(__name__)


def staff_mail_job(engine: Engine, payload: dict[str, Any]) -> None:
    with Session(engine) as session:
        row = session.get(StaffToken, int(payload["token_id"]))
        user = session.get(User, row.user_id) if row else None
        if row is None or user is None or row.used_at is not None or row.expires_at <= utcnow():
            log.info("staff link %s no longer usable; not sent", payload.get("token_id"))
            return
        agency = session.get(Agency, user.agency_id)
        url = staff.link_url(decrypt(str(payload["sealed"])))
        subject, text = staff.link_message(user, agency, row.purpose, url)
        message = OutgoingMessage(
            to=user.email,
            subject=subject,
            text=text,
            html=None,
            idempotency_key=f"{staff.MAIL_JOB}:{row.id}",
        )
    try:
        MESSENGERS["email"].send(message)
    except PermanentSendError as exc:
        log.warning("staff link %s: e-mail refused: %s", row.id, exc)
