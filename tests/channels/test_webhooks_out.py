"""Signing and classifying one webhook request (channels.webhooks_out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from standardwebhooks import Webhook

from channels import webhooks_out
from channels.webhooks_out import Result
from kernel.webhooks import new_secret

URL = "https://hooks.example.go.id/in"


def test_headers_follow_the_spec_and_verify() -> None:
    secret = new_secret()
    at = datetime.now(UTC)
    body = '{"type":"post.approved","timestamp":"x","data":{}}'
    headers = webhooks_out.headers(secret, "msg_1", body, at)
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["type"] == "post.approved"


@pytest.mark.parametrize(
    ("code", "result"),
    [
        (200, Result.DELIVERED),
        (202, Result.DELIVERED),
        (204, Result.DELIVERED),
        (500, Result.TRANSIENT),
        (502, Result.TRANSIENT),
        (408, Result.TRANSIENT),
        (429, Result.TRANSIENT),
        (410, Result.PERMANENT),
        (401, Result.PERMANENT),
        (422, Result.PERMANENT),
        (302, Result.PERMANENT),
    ],
)
def test_answers_are_classified(code: int, result: Result) -> None:
    with respx.mock:
        respx.post(URL).mock(return_value=httpx.Response(code))
        outcome = webhooks_out.send(URL, new_secret(), "msg_1", "{}")
    assert outcome.result == result
    assert outcome.status_code == code


def test_connection_errors_are_transient() -> None:
    with respx.mock:
        respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
        outcome = webhooks_out.send(URL, new_secret(), "msg_1", "{}")
    assert outcome.result == Result.TRANSIENT
    assert outcome.status_code is None
    assert "ConnectError" in outcome.detail


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert webhooks_out.retry_after("30") == 30.0
    later = datetime.now(UTC) + timedelta(seconds=90)
    wait = webhooks_out.retry_after(format_datetime(later, usegmt=True))
    assert wait is not None
    assert 85 <= wait <= 91
    assert webhooks_out.retry_after("soon") is None
    assert webhooks_out.retry_after(None) is None
