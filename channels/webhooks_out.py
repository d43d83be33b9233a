"""Send one signed webhook request (Standard Webhooks) and say what the answer means.

Each attempt is signed anew with the ``standardwebhooks`` package: the same
``webhook-id`` (the event id, so the receiver can deduplicate), the current
``webhook-timestamp`` (receivers refuse one older than a few minutes) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``.

Answers:

- 2xx: delivered;
- 408, 409, 425, 429 and 5xx: transient (retried with backoff; a ``Retry-After`` in
  seconds or as an HTTP date is honoured);
- 410 Gone and every other 4xx, and 3xx (redirects are not followed): permanent;
- a timeout or a connection error: transient. A timeout may come after the receiver
  took the request; the retry carries the same ``webhook-id``, so it is not a second event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

import httpx
from standardwebhooks import Webhook

from channels import http
from channels.messaging import parse_retry_after

TIMEOUT_SECONDS = 10.0
_TRANSIENT = {408, 409, 425, 429}
_DETAIL_MAX = 300


class Result(StrEnum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Outcome:
    result: Result
    status_code: int | None = None
    detail: str = ""
    retry_after: float | None = None  # seconds, from the receiver's Retry-After


def headers(secret: str, event_id: str, body: str, at: datetime) -> dict[str, str]:
    """The spec's three headers for ``body`` sent at ``at``."""
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
        "content-type": "application/json",
    }


def send(
    url: str, secret: str, event_id: str, body: str, *, timeout: float = TIMEOUT_SECONDS
) -> Outcome:
    """POST ``body`` to ``url``, signed with ``secret``; never raises for the receiver's faults."""
    signed = headers(secret, event_id, body, datetime.now(UTC))
    try:
        with http.client(timeout=timeout) as client:
            response = client.post(url, content=body.encode(), headers=signed)
    except httpx.TimeoutException:
        return Outcome(Result.TRANSIENT, detail="timeout")
    except httpx.TransportError as exc:
        return Outcome(Result.TRANSIENT, detail=f"connection error: {type(exc).__name__}")
    return classify(response)


def classify(response: httpx.Response) -> Outcome:
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(Result.DELIVERED, code)
    detail = f"HTTP {code}"
    text = response.text.strip()[:_DETAIL_MAX] if response.content else ""
    if text:
        detail = f"{detail}: {' '.join(text.split())}"
    if code in _TRANSIENT or code >= 500:
        wait = retry_after(response.headers.get("Retry-After"))
        return Outcome(Result.TRANSIENT, code, detail, wait)
    if 300 <= code < 400:
        detail = f"HTTP {code}: redirects are not followed; enter the final address"
    return Outcome(Result.PERMANENT, code, detail)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    seconds = parse_retry_after(value)
    if seconds is not None or not value:
        return seconds
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)
