"""The agency webhook gateway: JSON POST with an Idempotency-Key, and what deliver does
with it when a worker dies between sending and recording (resend with the same key)."""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from channels.messaging import MESSENGERS, OutgoingMessage, PermanentSendError, TransientSendError
from channels.webhook import WebhookMessenger
from gaung.db import utcnow
from gaung.settings import WebhookSettings, get_settings
from kernel.outbox import OutboxMessage, OutboxStatus
from scheduler.deliver import LOST_RESENT, claim, deliver_due, outgoing
from tests.factories import make_agency, make_asn, make_unit

URL = "https://sms-gateway.kominfo.go.id/v1/messages"
TOKEN = "gateway-secret-token-never-shown"
MESSAGE = OutgoingMessage(
    to="+6281234567890",
    subject="Penugasan baru",
    text="Halo Budi, ada penugasan baru: http://testserver/inbox",
    html="<p>Halo Budi</p>",
    idempotency_key="post:12:asn:345",
)
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


@pytest.fixture
def gateway() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def hook() -> WebhookMessenger:
    return WebhookMessenger(WebhookSettings(url=URL, token=TOKEN))


def test_the_webhook_is_registered_idempotent_and_needs_a_url() -> None:
    assert isinstance(MESSENGERS["webhook"], WebhookMessenger)
    assert MESSENGERS["webhook"].idempotent is True
    assert not any(MESSENGERS[slug].idempotent for slug in ("email", "telegram", "whatsapp"))
    unset = WebhookMessenger(WebhookSettings(url=""))
    assert not unset.configured()
    with pytest.raises(PermanentSendError, match=r"webhook\.url"):
        unset.send(MESSAGE)


def test_a_message_is_posted_as_json_with_its_idempotency_key(
    gateway: respx.MockRouter, hook: WebhookMessenger
) -> None:
    route = gateway.post(URL).mock(return_value=httpx.Response(201, json={"id": "sms-981"}))

    result = hook.send(MESSAGE)

    assert result.provider_id == "sms-981"
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == "post:12:asn:345"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {
        "to": "+6281234567890",
        "subject": "Penugasan baru",
        "text": "Halo Budi, ada penugasan baru: http://testserver/inbox",
        "html": "<p>Halo Budi</p>",
        "template": None,
        "params": None,
        "idempotency_key": "post:12:asn:345",
    }


def test_no_token_means_no_authorization_header(gateway: respx.MockRouter) -> None:
    route = gateway.post(URL).mock(return_value=httpx.Response(200, json={}))

    result = WebhookMessenger(WebhookSettings(url=URL)).send(MESSAGE)

    assert "Authorization" not in route.calls.last.request.headers
    assert result.provider_id == MESSAGE.idempotency_key  # a gateway without ids


@pytest.mark.parametrize(
    ("response", "retry_after"),
    [
        (httpx.Response(429, headers={"Retry-After": "12"}, json={"error": "slow down"}), 12.0),
        (httpx.Response(503, headers={"Retry-After": "30"}), 30.0),
        (httpx.Response(500, json={"error": "database down"}), None),
        (httpx.Response(409, json={"error": "a request with this key is in progress"}), None),
        (httpx.Response(408), None),
    ],
)
def test_overload_and_server_errors_are_transient(
    gateway: respx.MockRouter,
    hook: WebhookMessenger,
    response: httpx.Response,
    retry_after: float | None,
) -> None:
    gateway.post(URL).mock(return_value=response)
    with pytest.raises(TransientSendError) as raised:
        hook.send(MESSAGE)
    assert raised.value.retry_after == retry_after


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(401, json={"error": "bad token"}), "token"),
        (httpx.Response(403), "token"),
        (httpx.Response(422, json={"error": "invalid phone number"}), "invalid phone number"),
        (httpx.Response(400, json={"detail": "text too long"}), "text too long"),
        (httpx.Response(410, text="gone"), "Gone"),
    ],
)
def test_refusals_are_permanent_with_the_gateways_reason(
    gateway: respx.MockRouter, hook: WebhookMessenger, response: httpx.Response, reason: str
) -> None:
    gateway.post(URL).mock(return_value=response)
    with pytest.raises(PermanentSendError, match=reason):
        hook.send(MESSAGE)


def test_a_connection_failure_is_transient_and_never_shows_the_token(
    gateway: respx.MockRouter, hook: WebhookMessenger
) -> None:
    gateway.post(URL).mock(side_effect=httpx.ConnectError(f"refused (Bearer {TOKEN})"))
    with pytest.raises(TransientSendError) as raised:
        hook.send(MESSAGE)
    assert TOKEN not in "".join(traceback.format_exception(raised.value))


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=st.integers(min_value=300, max_value=599))
def test_every_non_2xx_answer_maps_to_a_contract_error(
    gateway: respx.MockRouter, hook: WebhookMessenger, status: int
) -> None:
    gateway.post(URL).mock(return_value=httpx.Response(status, text="<html>oops</html>"))
    with pytest.raises((TransientSendError, PermanentSendError)) as raised:
        hook.send(MESSAGE)
    assert TOKEN not in str(raised.value)


# --- deliver: a lost message of an idempotent messenger is resent with the same key ----------


@pytest.fixture
def webhook_outbox(
    db: Engine, session: Session, gateway: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> OutboxMessage:
    """One queued outbox message to an ASN whose messenger is the agency's gateway."""
    monkeypatch.setattr(get_settings(), "webhook", WebhookSettings(url=URL, token=TOKEN))
    monkeypatch.setitem(get_settings().rate_limits, "webhook", 10_000.0)
    person = make_asn(session, make_unit(session, make_agency(session)))
    person.messenger, person.phone = "webhook", "+6281234567890"
    session.add(person)
    session.commit()
    message = OutboxMessage(
        key="post:1:asn:1",
        asn_id=person.id or 0,
        messenger="webhook",
        recipient=person.phone,
        subject="Penugasan baru",
        text="Halo",
    )
    session.add(message)
    session.commit()
    return message


def _expire_leases(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(update(_outbox).values(lease_until=utcnow() - timedelta(seconds=1)))


def test_a_message_lost_mid_send_is_resent_with_the_same_key_and_recorded_once(
    db: Engine, session: Session, gateway: respx.MockRouter, webhook_outbox: OutboxMessage
) -> None:
    answers: dict[str, httpx.Response] = {}
    keys: list[str] = []

    def idempotent_gateway(request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        keys.append(key)
        # Like an idempotent API: the first request decides, a repeat replays it.
        return answers.setdefault(key, httpx.Response(201, json={"id": f"sms-{len(answers)}"}))

    gateway.post(URL).mock(side_effect=idempotent_gateway)
    # The doomed worker claims and sends, then dies before recording anything.
    (row,) = claim(db, "doomed", messenger="webhook", limit=10)
    MESSENGERS["webhook"].send(outgoing(row, 0, "Budi"))
    _expire_leases(db)

    assert deliver_due(db, "survivor", limit=10) == 1

    stored = session.exec(select(OutboxMessage)).one()
    session.refresh(stored)
    assert (stored.status, stored.provider_id, stored.worker) == ("sent", "sms-0", "survivor")
    assert stored.attempts == 2
    assert keys == ["post:1:asn:1", "post:1:asn:1"]  # one delivery, one replay


def test_a_lost_message_out_of_attempts_becomes_unknown(
    db: Engine,
    session: Session,
    gateway: respx.MockRouter,
    webhook_outbox: OutboxMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A message that keeps killing its worker is not resent forever."""
    monkeypatch.setattr(get_settings().scheduler, "max_attempts", 2)
    route = gateway.post(URL).mock(return_value=httpx.Response(201, json={"id": "sms-1"}))
    for _ in range(2):
        claim(db, "doomed", messenger="webhook", limit=10)
        _expire_leases(db)
        deliver_due(db, "survivor", limit=0)  # only notices the lost claim

    stored = session.exec(select(OutboxMessage)).one()
    session.refresh(stored)
    assert stored.status == OutboxStatus.UNKNOWN
    assert not route.called


def test_the_first_loss_is_explained_in_last_error(
    db: Engine, session: Session, gateway: respx.MockRouter, webhook_outbox: OutboxMessage
) -> None:
    claim(db, "doomed", messenger="webhook", limit=10)
    _expire_leases(db)
    deliver_due(db, "survivor", limit=0)
    stored = session.exec(select(OutboxMessage)).one()
    session.refresh(stored)
    assert (stored.status, stored.last_error, stored.worker) == ("queued", LOST_RESENT, None)
