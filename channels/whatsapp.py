"""WhatsApp Cloud API: approved template messages over httpx.

A business may only start a conversation with an approved template, so every
assignment notice is a ``type: template`` message: the template name comes from
``message.template``, its language from settings, its body values from
``message.params`` (keys "1", "2", ... fill positional ``{{1}}`` placeholders in
order; any other keys fill named parameters).

Errors come as {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}
and are mapped by code: rate limits and service trouble are transient, a bad
recipient, template or token is permanent. The token travels in the Authorization
header only, never in the URL or an error text.
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
from gaung.settings import WhatsAppSettings, get_settings
from kernel.outbox import PersonMessenger

# Rate limits: 4 (app), 80007 (WABA), 130429 (throughput), 131048 (spam rate),
# 131056 (pair rate); service trouble: 1, 2, 131000, 131016.
TRANSIENT_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056})
# 131026 undeliverable, 131030 not in the allowed list (test numbers), 131021 sender is
# the recipient, 131045 phone number not registered.
RECIPIENT_CODES = frozenset({131021, 131026, 131030, 131045})
# 0 and 190: the access token is invalid or expired; an operator must replace it.
TOKEN_CODES = frozenset({0, 190})
# 132000-132015: the template is missing, paused, or its parameters do not match.
TEMPLATE_CODES = frozenset(range(132000, 132016))


def template_components(params: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The ``components`` of a template message: one body with its parameters."""
    if not params:
        return []
    if all(str(key).isdigit() for key in params):
        ordered = sorted(params.items(), key=lambda item: int(item[0]))
        parameters = [{"type": "text", "text": str(value)} for _key, value in ordered]
    else:
        parameters = [
            {"type": "text", "parameter_name": str(key), "text": str(value)}
            for key, value in params.items()
        ]
    return [{"type": "body", "parameters": parameters}]


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _error(response: httpx.Response) -> PermanentSendError | TransientSendError:
    error = _error_body(response)
    code = error.get("code")
    detail = (
        f"WhatsApp {response.status_code} code {code}: "
        f"{error.get('message') or response.reason_phrase}"
        f" (fbtrace_id {error.get('fbtrace_id', '-')})"
    )
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if code in TRANSIENT_CODES or response.status_code == 429 or response.status_code >= 500:
        return TransientSendError(retry_after=retry_after, detail=detail)
    if code in TOKEN_CODES:
        return PermanentSendError("token")
    if code in RECIPIENT_CODES or (code == 100 and _about_recipient(error)):
        return PermanentSendError(f"recipient: {detail}")
    if code in TEMPLATE_CODES:
        return PermanentSendError(f"template: {detail}")
    return PermanentSendError(detail)


def _about_recipient(error: dict[str, Any]) -> bool:
    """Whether an "Invalid parameter" (code 100) error is about the ``to`` number."""
    data = error.get("error_data")
    details = data.get("details", "") if isinstance(data, dict) else ""
    text = f"{error.get('message', '')} {details}".lower()
    return "'to'" in text or '"to"' in text or "phone number" in text or "recipient" in text


class WhatsAppMessenger:
    slug = "whatsapp"
    idempotent = False  # the Cloud API has no idempotency key: a lost send is never repeated
    person = PersonMessenger(
        "whatsapp",
        "phone",
        "WhatsApp",
        address_needed=N_("A phone number is needed to send messages by WhatsApp."),
    )

    def __init__(self, settings: WhatsAppSettings | None = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> WhatsAppSettings:
        return self._settings or overlay("whatsapp", get_settings().whatsapp)

    def configured(self) -> bool:
        return bool(self.settings.access_token and self.settings.phone_number_id)

    def send(self, message: OutgoingMessage) -> SendResult:
        if not self.configured():
            raise PermanentSendError("token")
        if not message.template:
            raise PermanentSendError("template: WhatsApp needs an approved template name")
        response = self._post(self.body(message))
        if response.status_code != 200:
            raise _error(response)
        try:
            return SendResult(provider_id=str(response.json()["messages"][0]["id"]))
        except (ValueError, KeyError, IndexError, TypeError):
            raise TransientSendError(detail="WhatsApp: unexpected response") from None

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        """The JSON body of a template message to ``message.to``."""
        template: dict[str, Any] = {
            "name": message.template,
            "language": {"code": self.settings.template_language},
        }
        components = template_components(message.params)
        if components:
            template["components"] = components
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to.lstrip("+"),
            "type": "template",
            "template": template,
        }

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        s = self.settings
        url = f"{s.api_base_url.rstrip('/')}/{s.api_version}/{s.phone_number_id}/messages"
        headers = {"Authorization": f"Bearer {s.access_token}"}
        try:
            with http.client() as client:
                return client.post(url, json=body, headers=headers)
        except httpx.TransportError as exc:
            # "from None": the cause carries the request and its Authorization header.
            raise TransientSendError(detail=f"WhatsApp: {type(exc).__name__}") from None


messenger = WhatsAppMessenger()
