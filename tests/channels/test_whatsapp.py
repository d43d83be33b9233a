"""WhatsApp Cloud API template messages, faked with respx using the documented payloads."""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.messaging import MESSENGERS, OutgoingMessage, PermanentSendError, TransientSendError
from channels.whatsapp import WhatsAppMessenger, template_components
from gaung.settings import WhatsAppSettings
from tests.channels.conftest import WA_API, WA_PHONE_NUMBER_ID, WA_TOKEN

SEND_URL = f"{WA_API}/v24.0/{WA_PHONE_NUMBER_ID}/messages"
MESSAGE = OutgoingMessage(
    to="+6281234567890",
    subject="Penugasan baru",
    text="Halo Budi",
    html=None,
    idempotency_key="assignment-42",
    template="gaung_assignment",
    params={"1": "Budi", "2": "HUT RI ke-81", "3": "http://testserver/inbox"},
)
SUCCESS = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "6281234567890", "wa_id": "6281234567890"}],
    "messages": [{"id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjQ2", "message_status": "accepted"}],
}


@pytest.fixture
def wa_api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def _error(
    status: int, code: int, message: str, subcode: int | None = None, details: str = ""
) -> httpx.Response:
    error: dict[str, object] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGh123",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return httpx.Response(status, json={"error": error})


def _assert_token_hidden(error: BaseException) -> None:
    assert WA_TOKEN not in str(error)
    assert WA_TOKEN not in "".join(traceback.format_exception(error))


def test_whatsapp_is_registered_and_needs_token_and_number() -> None:
    assert isinstance(MESSENGERS["whatsapp"], WhatsAppMessenger)
    assert not WhatsAppMessenger(WhatsAppSettings(access_token="t")).configured()
    assert not WhatsAppMessenger(WhatsAppSettings(phone_number_id="1")).configured()


def test_a_template_message_is_sent_and_returns_the_wamid(
    wa_api: respx.MockRouter, wa_settings: WhatsAppSettings
) -> None:
    route = wa_api.post(SEND_URL).mock(return_value=httpx.Response(200, json=SUCCESS))
    result = WhatsAppMessenger(wa_settings).send(MESSAGE)

    assert result.provider_id == "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjQ2"
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {WA_TOKEN}"
    assert json.loads(request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567890",
        "type": "template",
        "template": {
            "name": "gaung_assignment",
            "language": {"code": "id"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Budi"},
                        {"type": "text", "text": "HUT RI ke-81"},
                        {"type": "text", "text": "http://testserver/inbox"},
                    ],
                }
            ],
        },
    }


def test_a_message_without_a_template_is_permanent_without_calling(
    wa_api: respx.MockRouter, wa_settings: WhatsAppSettings
) -> None:
    route = wa_api.post(SEND_URL)
    free_text = OutgoingMessage(to="628", subject="s", text="t", html=None, idempotency_key="k")
    with pytest.raises(PermanentSendError, match="template"):
        WhatsAppMessenger(wa_settings).send(free_text)
    assert not route.called


@given(values=st.lists(st.text(max_size=20), min_size=1, max_size=15))
def test_positional_parameters_keep_their_numeric_order(values: list[str]) -> None:
    # Shuffle-proof: keys "10" and "2" must sort as numbers, not as strings.
    params = {str(i): v for i, v in reversed(list(enumerate(values, start=1)))}
    (body,) = template_components(params)
    assert [p["text"] for p in body["parameters"]] == values
    assert all("parameter_name" not in p for p in body["parameters"])


def test_named_parameters_carry_their_names() -> None:
    (body,) = template_components({"asn_name": "Budi", "campaign": "HUT RI"})
    assert body["parameters"] == [
        {"type": "text", "parameter_name": "asn_name", "text": "Budi"},
        {"type": "text", "parameter_name": "campaign", "text": "HUT RI"},
    ]
    assert template_components(None) == []


@pytest.mark.parametrize(
    ("code", "message", "details"),
    [
        (131026, "Message undeliverable", "Message Undeliverable."),
        (131030, "Recipient phone number not in allowed list", ""),
        (
            100,
            "(#100) Invalid parameter",
            "Invalid parameter 'to': phone number is not a valid WhatsApp number",
        ),
    ],
)
def test_undeliverable_recipients_are_permanent(
    wa_api: respx.MockRouter,
    wa_settings: WhatsAppSettings,
    code: int,
    message: str,
    details: str,
) -> None:
    wa_api.post(SEND_URL).mock(return_value=_error(400, code, message, 2494010, details))
    with pytest.raises(PermanentSendError) as caught:
        WhatsAppMessenger(wa_settings).send(MESSAGE)
    assert caught.value.reason.startswith("recipient:")
    assert str(code) in caught.value.reason
    _assert_token_hidden(caught.value)


def test_an_expired_token_is_permanent_with_reason_token(
    wa_api: respx.MockRouter, wa_settings: WhatsAppSettings
) -> None:
    wa_api.post(SEND_URL).mock(
        return_value=_error(
            401,
            190,
            "Error validating access token: Session has expired on Monday, 17-Aug-26.",
            463,
        )
    )
    with pytest.raises(PermanentSendError) as caught:
        WhatsAppMessenger(wa_settings).send(MESSAGE)
    assert caught.value.reason == "token"


def test_a_missing_template_is_permanent(
    wa_api: respx.MockRouter, wa_settings: WhatsAppSettings
) -> None:
    wa_api.post(SEND_URL).mock(
        return_value=_error(404, 132001, "Template name does not exist in the translation")
    )
    with pytest.raises(PermanentSendError, match=r"^template:"):
        WhatsAppMessenger(wa_settings).send(MESSAGE)


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, 130429, "Rate limit hit"),
        (400, 131048, "Spam rate limit hit"),
        (400, 131056, "(Business Account, Consumer Account) pair rate limit hit"),
        (429, 80007, "Rate limit issues"),
        (503, 131016, "Service unavailable"),
    ],
)
def test_rate_limits_and_outages_are_transient(
    wa_api: respx.MockRouter,
    wa_settings: WhatsAppSettings,
    status: int,
    code: int,
    message: str,
) -> None:
    wa_api.post(SEND_URL).mock(return_value=_error(status, code, message))
    with pytest.raises(TransientSendError) as caught:
        WhatsAppMessenger(wa_settings).send(MESSAGE)
    assert str(code) in str(caught.value)
    _assert_token_hidden(caught.value)


def test_http_429_honours_retry_after(
    wa_api: respx.MockRouter, wa_settings: WhatsAppSettings
) -> None:
    wa_api.post(SEND_URL).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "30"}, text="Too Many Requests")
    )
    with pytest.raises(TransientSendError) as caught:
        WhatsAppMessenger(wa_settings).send(MESSAGE)
    assert caught.value.retry_after == 30


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
@given(status=st.integers(min_value=500, max_value=599))
def test_any_server_error_is_transient(wa_settings: WhatsAppSettings, status: int) -> None:
    with respx.mock() as router:
        router.post(SEND_URL).mock(return_value=httpx.Response(status, text="oops"))
        with pytest.raises(TransientSendError):
            WhatsAppMessenger(wa_settings).send(MESSAGE)


def test_a_timeout_is_transient_and_hides_the_token(
    wa_api: respx.MockRouter, wa_settings: WhatsAppSettings
) -> None:
    wa_api.post(SEND_URL).mock(side_effect=httpx.ConnectTimeout("timed out"))
    with pytest.raises(TransientSendError) as caught:
        WhatsAppMessenger(wa_settings).send(MESSAGE)
    _assert_token_hidden(caught.value)


def test_an_unexpected_success_body_is_transient(
    wa_api: respx.MockRouter, wa_settings: WhatsAppSettings
) -> None:
    wa_api.post(SEND_URL).mock(
        return_value=httpx.Response(200, json={"messaging_product": "whatsapp"})
    )
    with pytest.raises(TransientSendError):
        WhatsAppMessenger(wa_settings).send(MESSAGE)
