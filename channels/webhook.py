"""An agency's own message gateway (an SMS bridge, an internal notifier) over a JSON webhook.

Gaung POSTs each message as JSON to ``webhook.url``::

    POST <url>
    Authorization: Bearer <webhook.token>        (when set)
    Idempotency-Key: post:12:asn:345             (the outbox key, stable across retries)
    {"to": "+62812...", "subject": "...", "text": "...", "html": "...",
     "template": null, "params": null, "idempotency_key": "post:12:asn:345"}

and expects ``2xx {"id": "<gateway message id>"}``. The gateway must honour the
``Idempotency-Key`` the way payment and messaging APIs do: the first request with a key
delivers, any later one with the same key only replays the first answer. That makes this
messenger ``idempotent``: a message whose worker died between sending and recording is
sent again with the same key instead of being marked unknown (scheduler.deliver).

Answers: 429 and 503 (with ``Retry-After``), other 5xx, 408 and 409 (the same key still
being processed) are transient; 401/403 mean a bad token; any other 4xx is permanent,
with the gateway's ``{"error": "..."}`` as the reason. The token never appears in errors.
"""

from __future__ import annotations

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
from gaung.errors import N_
from gaung.settings import WebhookSettings, get_settings
from kernel.outbox import PersonMessenger

_TRANSIENT = {408, 409, 425, 429}
_ERROR_MAX = 300


def _payload(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(response: httpx.Response) -> PermanentSendError | TransientSendError:
    code = response.status_code
    data = _payload(response)
    detail = str(data.get("error") or data.get("detail") or response.reason_phrase)[:_ERROR_MAX]
    if code in _TRANSIENT or code >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return TransientSendError(retry_after=retry_after, detail=f"webhook {code}: {detail}")
    if code in (401, 403):
        return PermanentSendError("token")
    return PermanentSendError(f"webhook {code}: {detail}")


class WebhookMessenger:
    slug = "webhook"
    idempotent = True  # the gateway deduplicates by Idempotency-Key (see above)
    # The agency's own gateway, e.g. an SMS bridge: offered once it is set up.
    person = PersonMessenger(
        "webhook",
        "phone",
        N_("SMS (agency gateway)"),
        address_needed=N_(
            "A phone number is needed to send messages by SMS (your agency's gateway)."
        ),
        offered_when_set_up=True,
    )

    def __init__(self, settings: WebhookSettings | None = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> WebhookSettings:
        return self._settings or overlay("webhook", get_settings().webhook)

    def configured(self) -> bool:
        return bool(self.settings.url)

    def send(self, message: OutgoingMessage) -> SendResult:
        if not self.configured():
            raise PermanentSendError("webhook.url is not set")
        body = {
            "to": message.to,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "template": message.template,
            "params": message.params,
            "idempotency_key": message.idempotency_key,
        }
        response = self._post(body, message.idempotency_key)
        if not 200 <= response.status_code < 300:
            raise _error(response)
        provider_id = _payload(response).get("id")
        return SendResult(provider_id=str(provider_id or message.idempotency_key))

    def _post(self, body: dict[str, Any], key: str) -> httpx.Response:
        s = self.settings
        headers = {"Idempotency-Key": key}
        if s.token:
            headers["Authorization"] = f"Bearer {s.token}"
        try:
            with http.client(timeout=s.timeout_seconds) as client:
                return client.post(s.url, json=body, headers=headers)
        except httpx.TransportError as exc:
            # Safe to retry: the same key makes a repeat a replay, not a second message.
            raise TransientSendError(detail=f"webhook: {type(exc).__name__}") from None


messenger = WebhookMessenger()
