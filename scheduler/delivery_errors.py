"""Why a message was not delivered, in words Humas and ASN can act on.

The outbox keeps the technical reason in ``last_error`` (an SMTP reply, a Bot API
description, "no address"): useful to an operator, meaningless to an editor. This module is
the one place that turns each known failure class into an explanation and what to do about
it; pages show that first and the technical text only as a secondary detail.

The classes follow what the messengers record (``channels.email``, ``channels.telegram``,
``channels.whatsapp``, ``channels.webhook``), what the outbox records itself (no address,
unknown messenger, ``scheduler.deliver``'s lost sends) and ``roster.privacy``'s erasure.
Anything else falls back to a general explanation by status, never to the raw text alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from gaung.errors import N_
from kernel.outbox import NO_ADDRESS, OutboxMessage, OutboxStatus

# Who can fix it: the ASN (their address, their app), Humas, or the operator (settings).
ASN, HUMAS, OPERATOR = "asn", "humas", "operator"


@dataclass(frozen=True)
class Explanation:
    """What happened and what to do: msgids, translated where they are shown."""

    what: str
    todo: str  # for Humas
    fixed_by: str  # ASN | HUMAS | OPERATOR
    asn_todo: str | None = None  # for the ASN, when they can fix it themselves


_NO_ADDRESS = {
    "email": Explanation(
        N_("This ASN has no e-mail address yet."),
        N_(
            "Ask the ASN to add their e-mail address in their inbox settings (or correct the "
            "roster), then send the assignment again."
        ),
        ASN,
        N_("Add your e-mail address below so the next messages reach you."),
    ),
    "telegram": Explanation(
        N_("This ASN has not linked Telegram to Gaung yet."),
        N_(
            "Ask the ASN to open their inbox settings and press the Telegram link once; "
            "later messages then reach them."
        ),
        ASN,
        N_("Press the Telegram link below once, so the next messages reach you."),
    ),
    "whatsapp": Explanation(
        N_("This ASN has no phone number for WhatsApp yet."),
        N_("Ask the ASN to add their phone number in their inbox settings, or correct the roster."),
        ASN,
        N_("Add your phone number below so the next messages reach you."),
    ),
}
_NO_ADDRESS_OTHER = Explanation(
    N_("This ASN has no address for the messenger they chose."),
    N_("Ask the ASN to complete their contact details in their inbox settings."),
    ASN,
    N_("Complete your contact details below so the next messages reach you."),
)
_CREDENTIALS = Explanation(
    N_("The messenger refused Gaung's credentials, or they are missing."),
    N_(
        "Ask the Gaung operator to check this messenger's token under Channels, "
        "Credentials; then retry the messages."
    ),
    OPERATOR,
)
_TEMPORARY = Explanation(
    N_("The messenger could not be reached, or asked Gaung to wait, on every attempt."),
    N_("Retry the message. If many messages fail like this, tell the Gaung operator."),
    HUMAS,
)
_REFUSED = Explanation(
    N_("The messenger refused this message."),
    N_(
        "Check the ASN's contact details with them. The technical detail below says what "
        "the messenger answered."
    ),
    HUMAS,
)

_LOST = Explanation(
    N_("Gaung stopped while sending, so it does not know whether the message arrived."),
    N_("Ask the ASN whether it arrived, then mark it as sent or send it again."),
    HUMAS,
)

# (pattern on last_error, explanation), first match wins. Temporary failures that used up
# every attempt are "retryable" in the outbox; other refusals fall back to _REFUSED.
_CLASSES: tuple[tuple[re.Pattern[str], Explanation], ...] = (
    (
        re.compile(r"^invalid email address$"),
        Explanation(
            N_("The ASN's e-mail address is not valid."),
            N_("Correct the address with the ASN (inbox settings or the roster)."),
            ASN,
            N_("Correct your e-mail address below."),
        ),
    ),
    (
        re.compile(r"^SMTP 5\d\d: recipient refused"),
        Explanation(
            N_("The e-mail server refused the ASN's address (it may not exist or be full)."),
            N_(
                "Check the e-mail address with the ASN and correct it in their inbox "
                "settings or the roster."
            ),
            ASN,
            N_("Check your e-mail address below, or choose another messenger."),
        ),
    ),
    (
        re.compile(r"^SMTP 5\d\d: sender refused|^SMTP server does not support"),
        Explanation(
            N_("The e-mail server refused Gaung's sender or settings."),
            N_("Ask the Gaung operator to check the e-mail (SMTP) settings, then retry."),
            OPERATOR,
        ),
    ),
    (
        re.compile(r"^SMTP 5\d\d"),
        Explanation(
            N_("The e-mail server refused the message."),
            N_(
                "Check the ASN's e-mail address. If many messages fail like this, ask the "
                "Gaung operator to check the e-mail server."
            ),
            HUMAS,
        ),
    ),
    (
        re.compile(r"^SMTP (4\d\d|connection)"),
        Explanation(
            N_("The e-mail server could not be reached, or asked to try later, on every attempt."),
            N_(
                "Retry the message. If it keeps failing, ask the Gaung operator to check the "
                "e-mail (SMTP) settings."
            ),
            OPERATOR,
        ),
    ),
    (re.compile(r"^token$"), _CREDENTIALS),
    (
        re.compile(r"^Telegram 403"),
        Explanation(
            N_("The ASN blocked the Gaung bot on Telegram or deleted the chat."),
            N_(
                "Ask the ASN to unblock the bot and press the Telegram link in their inbox "
                "settings again."
            ),
            ASN,
            N_("Unblock the Gaung bot in Telegram, then press the Telegram link below again."),
        ),
    ),
    (
        re.compile(r"^Telegram 400: .*chat not found", re.IGNORECASE),
        Explanation(
            N_("Telegram no longer knows this ASN's chat."),
            N_("Ask the ASN to press the Telegram link in their inbox settings again."),
            ASN,
            N_("Press the Telegram link below again."),
        ),
    ),
    (
        re.compile(r"^text longer than"),
        Explanation(
            N_("The message is longer than Telegram allows."),
            N_("Shorten the post's text, then send the assignment again."),
            HUMAS,
        ),
    ),
    (
        re.compile(r"^recipient: "),
        Explanation(
            N_("WhatsApp cannot deliver to this number (not on WhatsApp, or not valid)."),
            N_(
                "Check the phone number with the ASN, or ask them to choose e-mail or "
                "Telegram in their inbox settings."
            ),
            ASN,
            N_("Check your phone number below, or choose e-mail or Telegram."),
        ),
    ),
    (
        re.compile(r"^template: "),
        Explanation(
            N_("WhatsApp refused the message template."),
            N_(
                "Ask the Gaung operator to check that the WhatsApp template is approved in the "
                "WhatsApp Business account."
            ),
            OPERATOR,
        ),
    ),
    (
        re.compile(r"^webhook\.url is not set"),
        Explanation(
            N_("The agency's message gateway is not set up."),
            N_("Ask the Gaung operator to set the gateway address, then retry."),
            OPERATOR,
        ),
    ),
    (
        re.compile(r"^webhook 4\d\d"),
        Explanation(
            N_("The agency's message gateway refused the message."),
            N_("Ask whoever runs the gateway to check it; the detail below is its answer."),
            OPERATOR,
        ),
    ),
    (
        re.compile(r"^unknown messenger$"),
        Explanation(
            N_("The messenger this ASN chose is not available on this installation."),
            N_("Ask the ASN to choose another messenger in their inbox settings."),
            ASN,
            N_("Choose another messenger below."),
        ),
    ),
    (re.compile(r"^worker lost between send and record"), _LOST),
    (
        re.compile(r"^recipient left Gaung$"),
        Explanation(
            N_("The ASN left Gaung before the message went out."),
            N_("Nothing to do."),
            HUMAS,
        ),
    ),
)


def explain(
    last_error: str | None, messenger: str, status: str, *, retryable: bool = False
) -> Explanation | None:
    """The explanation of an undelivered message (None when nothing went wrong)."""
    error = (last_error or "").strip()
    if error == NO_ADDRESS:
        return _NO_ADDRESS.get(messenger, _NO_ADDRESS_OTHER)
    for pattern, explanation in _CLASSES:
        if pattern.search(error):
            return explanation
    if retryable:
        return _TEMPORARY
    if status == OutboxStatus.UNKNOWN:
        return _LOST
    if status == OutboxStatus.FAILED:
        return _REFUSED
    return None


def technical(last_error: str | None) -> str:
    """The raw reason, for the details element (never shown on its own)."""
    return (last_error or "").strip()


@dataclass(frozen=True)
class AsnNotice:
    """The ASN's latest message did not arrive, and they can fix why (inbox settings)."""

    at: datetime
    messenger: str
    explanation: Explanation


_table = OutboxMessage.__table__  # type: ignore[attr-defined]
_SETTLED = (OutboxStatus.SENT, OutboxStatus.FAILED)


def latest_undelivered(conn: Connection, asn_id: int) -> AsnNotice | None:
    """The ASN's most recent settled message, if it failed for a reason they can fix."""
    row = conn.execute(
        select(_table.c.created_at, _table.c.messenger, _table.c.status, _table.c.last_error,
               _table.c.retryable)
        .where(_table.c.asn_id == asn_id, _table.c.status.in_([str(s) for s in _SETTLED]))
        .order_by(_table.c.created_at.desc(), _table.c.id.desc())
        .limit(1)
    ).first()  # fmt: skip
    if row is None or row.status != OutboxStatus.FAILED:
        return None
    explained = explain(row.last_error, row.messenger, row.status, retryable=row.retryable)
    if explained is None or explained.asn_todo is None:
        return None
    return AsnNotice(row.created_at, row.messenger, explained)
