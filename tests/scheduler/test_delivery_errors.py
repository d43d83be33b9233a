"""Every way a message fails has an Indonesian explanation and what to do about it.

The technical reasons are made by the channels' own error code (not copied by hand), so a
change in what a messenger records shows up here as an unexplained failure.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels import email, telegram, webhook, whatsapp
from gaung import i18n
from kernel.outbox import NO_ADDRESS, OutboxStatus
from roster.privacy import LEFT_ERROR
from scheduler import delivery_errors
from scheduler.deliver import LOST, LOST_RESENT
from scheduler.delivery_errors import ASN, HUMAS, OPERATOR, explain

FAILED = OutboxStatus.FAILED


def _telegram(code: int, description: str) -> str:
    response = httpx.Response(
        code, json={"ok": False, "error_code": code, "description": description}
    )
    return str(telegram._error(response))


def _whatsapp(code: int, status: int = 400) -> str:
    body = {"error": {"message": f"(#{code}) error", "code": code, "fbtrace_id": "A1"}}
    return str(whatsapp._error(httpx.Response(status, json=body)))


def _webhook(status: int) -> str:
    return str(webhook._error(httpx.Response(status, json={"error": "nope"})))


CASES = [
    # (technical reason as recorded, messenger, retryable, what it says, who fixes it)
    (NO_ADDRESS, "email", False, "This ASN has no e-mail address yet.", ASN),
    (NO_ADDRESS, "telegram", False, "This ASN has not linked Telegram to Gaung yet.", ASN),
    (NO_ADDRESS, "whatsapp", False, "This ASN has no phone number for WhatsApp yet.", ASN),
    (NO_ADDRESS, "sms", False, "This ASN has no address for the messenger they chose.", ASN),
    ("invalid email address", "email", False, "The ASN's e-mail address is not valid.", ASN),
    (
        str(email._by_code(550, "recipient refused: 5.1.1 Mailbox unavailable")),
        "email",
        False,
        "The e-mail server refused the ASN's address (it may not exist or be full).",
        ASN,
    ),
    (
        str(email._by_code(553, "sender refused: 5.7.1 not allowed")),
        "email",
        False,
        "The e-mail server refused Gaung's sender or settings.",
        OPERATOR,
    ),
    (
        str(email._by_code(554, "5.6.0 Message content rejected")),
        "email",
        False,
        "The e-mail server refused the message.",
        HUMAS,
    ),
    (
        str(email._by_code(451, "4.3.0 Try again later")),
        "email",
        True,
        "The e-mail server could not be reached, or asked to try later, on every attempt.",
        OPERATOR,
    ),
    (
        "SMTP connection: ConnectionRefusedError(111, 'Connection refused')",
        "email",
        True,
        "The e-mail server could not be reached, or asked to try later, on every attempt.",
        OPERATOR,
    ),
    (
        _telegram(403, "Forbidden: bot was blocked by the user"),
        "telegram",
        False,
        "The ASN blocked the Gaung bot on Telegram or deleted the chat.",
        ASN,
    ),
    (
        _telegram(400, "Bad Request: chat not found"),
        "telegram",
        False,
        "Telegram no longer knows this ASN's chat.",
        ASN,
    ),
    (
        _telegram(401, "Unauthorized"),
        "telegram",
        False,
        "The messenger refused Gaung's credentials, or they are missing.",
        OPERATOR,
    ),
    (
        _telegram(502, "Bad Gateway"),
        "telegram",
        True,
        "The messenger could not be reached, or asked Gaung to wait, on every attempt.",
        HUMAS,
    ),
    (
        "text longer than 4096 characters",
        "telegram",
        False,
        "The message is longer than Telegram allows.",
        HUMAS,
    ),
    (
        _whatsapp(131026),
        "whatsapp",
        False,
        "WhatsApp cannot deliver to this number (not on WhatsApp, or not valid).",
        ASN,
    ),
    (_whatsapp(132001), "whatsapp", False, "WhatsApp refused the message template.", OPERATOR),
    (
        _whatsapp(190, 401),
        "whatsapp",
        False,
        "The messenger refused Gaung's credentials, or they are missing.",
        OPERATOR,
    ),
    (
        "webhook.url is not set",
        "webhook",
        False,
        "The agency's message gateway is not set up.",
        OPERATOR,
    ),
    (
        _webhook(422),
        "webhook",
        False,
        "The agency's message gateway refused the message.",
        OPERATOR,
    ),
    (
        "unknown messenger",
        "pigeon",
        False,
        "The messenger this ASN chose is not available on this installation.",
        ASN,
    ),
    (
        LEFT_ERROR,
        "email",
        False,
        "The ASN left Gaung before the message went out.",
        HUMAS,
    ),
]


@pytest.mark.parametrize(("error", "messenger", "retryable", "what", "fixed_by"), CASES)
def test_each_known_failure_is_explained_with_what_to_do(
    error: str, messenger: str, retryable: bool, what: str, fixed_by: str
) -> None:
    explained = explain(error, messenger, FAILED, retryable=retryable)

    assert explained is not None
    assert explained.what == what
    assert explained.fixed_by == fixed_by
    assert explained.todo
    if fixed_by == ASN:
        assert explained.asn_todo  # the ASN is told how to fix it in their settings


def test_a_lost_send_is_explained_as_unknown_whatever_was_recorded() -> None:
    for error in (LOST, LOST_RESENT, None):
        explained = explain(error, "telegram", OutboxStatus.UNKNOWN)
        assert explained is not None
        assert explained.what.startswith("Gaung stopped while sending")


def test_every_explanation_reads_in_indonesian() -> None:
    explanations = {explain(e, m, FAILED, retryable=r) for e, m, r, _w, _f in CASES}
    texts = {text for e in explanations if e for text in (e.what, e.todo, e.asn_todo) if text}
    with i18n.use_locale("id"):
        untranslated = {text for text in texts if i18n.gettext(text) == text}
        said = " ".join(i18n.gettext(text) for text in texts)
    assert not untranslated
    assert "surel" in said
    assert "e-mail" not in said.lower()
    assert "email" not in said.lower()


@given(st.text(max_size=300), st.sampled_from(["email", "telegram", "whatsapp", "webhook"]))
def test_no_failure_is_left_with_only_its_technical_text(error: str, messenger: str) -> None:
    explained = explain(error, messenger, FAILED)

    assert explained is not None
    assert explained.what != error
    assert explained.todo


def test_a_message_that_went_out_needs_no_explanation() -> None:
    assert explain(None, "email", OutboxStatus.SENT) is None
    assert explain(None, "email", OutboxStatus.QUEUED) is None
    assert delivery_errors.technical("  SMTP 550: x  ") == "SMTP 550: x"
