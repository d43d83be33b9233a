"""Outbound webhooks: signed per Standard Webhooks, each event once per endpoint, retried well.

The receiver is faked with respx at the network edge, and once with a real HTTP server on
127.0.0.1 in a thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from standardwebhooks import Webhook

from gaung.db import utcnow
from kernel import webhooks
from kernel.webhooks import DeliveryStatus, EventType, WebhookDelivery, WebhookEvent
from roster.models import Agency
from scheduler.webhook_deliver import (
    LOST,
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    claim,
    deliver_webhooks,
    purge,
)
from tests.factories import make_agency

URL = "https://hooks.example.go.id/gaung"
_delivery = WebhookDelivery.__table__  # type: ignore[attr-defined]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def _endpoint(
    session: Session, agency: Agency, url: str = URL, events: tuple[str, ...] = tuple(EventType)
) -> tuple[int, str]:
    assert agency.id is not None
    endpoint, secret = webhooks.create_endpoint(session, agency.id, url=url, events=events)
    session.commit()
    assert endpoint.id is not None
    return endpoint.id, secret


def _emit(session: Session, agency: Agency, **data: Any) -> str:
    assert agency.id is not None
    event_id = webhooks.emit(session, agency.id, EventType.POST_APPROVED, {"post_id": 1, **data})
    session.commit()
    assert event_id is not None
    return event_id


def _deliveries(session: Session) -> list[WebhookDelivery]:
    session.expire_all()
    return list(session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))))


def _due_now(db: Engine) -> None:
    """Time passes: every queued delivery is due."""
    with db.begin() as conn:
        conn.execute(update(_delivery).values(run_at=utcnow() - timedelta(seconds=1)))


def test_signature_verifies_with_standardwebhooks(
    db: Engine, session: Session, router: respx.MockRouter
) -> None:
    agency = make_agency(session)
    _, secret = _endpoint(session, agency)
    assert secret.startswith("whsec_")
    route = router.post(URL).mock(return_value=httpx.Response(204))
    event_id = _emit(session, agency, title="Digitalisasi UMKM")

    assert deliver_webhooks(db, "w1") == 1

    request = route.calls.last.request
    assert request.headers["webhook-id"] == event_id
    assert event_id.startswith("msg_")
    assert request.headers["webhook-signature"].startswith("v1,")
    parsed = Webhook(secret).verify(request.content, dict(request.headers))
    assert parsed["type"] == "post.approved"
    assert parsed["data"] == {"post_id": 1, "title": "Digitalisasi UMKM"}
    assert parsed["timestamp"].endswith("Z")
    # A wrong secret does not verify.
    with pytest.raises(Exception, match="signature"):
        Webhook(webhooks.new_secret()).verify(request.content, dict(request.headers))
    [delivery] = _deliveries(session)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.response_code == 204
    assert delivery.attempts == 1


def test_only_active_subscribed_endpoints_of_the_agency_get_the_event(
    db: Engine, session: Session
) -> None:
    agency, other = make_agency(session), make_agency(session)
    wanted, _ = _endpoint(session, agency)
    _endpoint(session, agency, events=(EventType.FEEDBACK_RECEIVED,))
    off, _ = _endpoint(session, agency)
    _endpoint(session, other)
    endpoint = session.get(webhooks.WebhookEndpoint, off)
    assert endpoint is not None
    endpoint.active = False
    session.commit()

    _emit(session, agency)

    assert [d.endpoint_id for d in _deliveries(session)] == [wanted]


def test_no_subscriber_no_event(db: Engine, session: Session) -> None:
    agency = make_agency(session)
    assert agency.id is not None
    assert webhooks.emit(session, agency.id, EventType.POST_APPROVED, {"post_id": 1}) is None
    session.commit()
    assert session.exec(select(WebhookEvent)).all() == []


def test_an_event_exists_only_if_the_callers_transaction_commits(
    db: Engine, session: Session
) -> None:
    agency = make_agency(session)
    _endpoint(session, agency)
    assert agency.id is not None
    webhooks.emit(session, agency.id, EventType.POST_APPROVED, {"post_id": 1})
    session.rollback()
    assert session.exec(select(WebhookEvent)).all() == []
    assert _deliveries(session) == []


def test_running_twice_delivers_each_event_once(
    db: Engine, session: Session, router: respx.MockRouter
) -> None:
    agency = make_agency(session)
    _endpoint(session, agency)
    route = router.post(URL).mock(return_value=httpx.Response(200))
    ids = {_emit(session, agency, n=n) for n in range(3)}

    assert deliver_webhooks(db, "w1") == 3
    assert deliver_webhooks(db, "w2") == 0
    assert deliver_webhooks(db, "w1") == 0

    assert sorted(call.request.headers["webhook-id"] for call in route.calls) == sorted(ids)


def test_a_crash_after_sending_resends_with_the_same_id(
    db: Engine, session: Session, router: respx.MockRouter
) -> None:
    """The receiver gets the request again, but under the same webhook-id: it dedupes."""
    agency = make_agency(session)
    _endpoint(session, agency)
    route = router.post(URL).mock(return_value=httpx.Response(200))
    event_id = _emit(session, agency)
    # A worker claims, sends, and dies before recording.
    [row] = claim(db, "dead", limit=10)
    with httpx.Client() as client:
        client.post(URL, headers={"webhook-id": row.event_id})
    assert deliver_webhooks(db, "w2") == 0  # its lease still runs: nobody touches it
    with db.begin() as conn:
        conn.execute(update(_delivery).values(lease_until=utcnow() - timedelta(seconds=1)))

    assert deliver_webhooks(db, "w2") == 1

    seen = [call.request.headers["webhook-id"] for call in route.calls]
    assert seen == [event_id, event_id]
    [delivery] = _deliveries(session)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 2


def test_5xx_then_success_retries_with_backoff(
    db: Engine, session: Session, router: respx.MockRouter
) -> None:
    agency = make_agency(session)
    _endpoint(session, agency)
    route = router.post(URL).mock(
        side_effect=[httpx.Response(503, text="maintenance"), httpx.Response(200)]
    )
    _emit(session, agency)
    before = utcnow()

    deliver_webhooks(db, "w1")

    [delivery] = _deliveries(session)
    assert delivery.status == DeliveryStatus.QUEUED
    assert delivery.last_error == "HTTP 503: maintenance"
    assert delivery.response_code == 503
    wait = delivery.run_at - before
    assert RETRY_DELAYS[0] * 0.8 <= wait <= RETRY_DELAYS[0] * 1.2 + timedelta(seconds=1)
    assert deliver_webhooks(db, "w1") == 0  # not due yet
    _due_now(db)

    deliver_webhooks(db, "w1")

    [delivery] = _deliveries(session)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 2
    assert delivery.last_error is None
    assert route.call_count == 2
    ids = {call.request.headers["webhook-id"] for call in route.calls}
    assert len(ids) == 1


def test_timeouts_are_retried_and_attempts_run_out(
    db: Engine, session: Session, router: respx.MockRouter
) -> None:
    agency = make_agency(session)
    _endpoint(session, agency)
    router.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    _emit(session, agency)
    for _ in range(MAX_ATTEMPTS):
        _due_now(db)
        deliver_webhooks(db, "w1")
    [delivery] = _deliveries(session)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.retryable
    assert delivery.attempts == MAX_ATTEMPTS
    assert delivery.last_error == "timeout"


@pytest.mark.parametrize("code", [410, 400, 404, 301])
def test_gone_and_other_4xx_are_permanent(
    db: Engine, session: Session, router: respx.MockRouter, code: int
) -> None:
    agency = make_agency(session)
    _endpoint(session, agency)
    route = router.post(URL).mock(return_value=httpx.Response(code))
    _emit(session, agency)

    deliver_webhooks(db, "w1")
    _due_now(db)
    deliver_webhooks(db, "w1")

    [delivery] = _deliveries(session)
    assert delivery.status == DeliveryStatus.FAILED
    assert not delivery.retryable
    assert delivery.response_code == code
    assert route.call_count == 1


def test_429_with_retry_after_waits_for_every_delivery_to_the_endpoint(
    db: Engine, session: Session, router: respx.MockRouter
) -> None:
    agency = make_agency(session)
    _endpoint(session, agency)
    route = router.post(URL).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "120"}), httpx.Response(200)]
    )
    _emit(session, agency)
    before = utcnow()

    assert deliver_webhooks(db, "w1", limit=1) == 1
    _emit(session, agency)  # a newer event to the same endpoint
    assert deliver_webhooks(db, "w1") == 0  # it waits too

    first, second = _deliveries(session)
    assert first.status == DeliveryStatus.QUEUED
    assert first.response_code == 429
    assert timedelta(seconds=119) <= first.run_at - before <= timedelta(seconds=125)
    assert route.call_count == 1
    assert second.status == DeliveryStatus.QUEUED
    assert second.attempts == 0
    _due_now(db)
    assert deliver_webhooks(db, "w1") == 0  # the endpoint's hold still runs


def test_disabled_endpoint_fails_retryably(
    db: Engine, session: Session, router: respx.MockRouter
) -> None:
    agency = make_agency(session)
    endpoint_id, _ = _endpoint(session, agency)
    route = router.post(URL).mock(return_value=httpx.Response(200))
    _emit(session, agency)
    endpoint = session.get(webhooks.WebhookEndpoint, endpoint_id)
    assert endpoint is not None
    endpoint.active = False
    session.commit()

    deliver_webhooks(db, "w1")

    [delivery] = _deliveries(session)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.retryable
    assert route.call_count == 0


def test_lost_delivery_out_of_attempts_fails(db: Engine, session: Session) -> None:
    agency = make_agency(session)
    _endpoint(session, agency)
    _emit(session, agency)
    claim(db, "dead", limit=1)
    past = utcnow() - timedelta(seconds=1)
    with db.begin() as conn:
        conn.execute(update(_delivery).values(lease_until=past, attempts=MAX_ATTEMPTS))
    deliver_webhooks(db, "w1")
    [delivery] = _deliveries(session)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.retryable
    assert delivery.last_error == LOST


def test_purge_drops_old_delivered_rows_only(
    db: Engine, session: Session, router: respx.MockRouter
) -> None:
    agency = make_agency(session)
    _endpoint(session, agency)
    router.post(URL).mock(return_value=httpx.Response(200))
    _emit(session, agency)
    deliver_webhooks(db, "w1")
    _emit(session, agency)  # still queued

    assert purge(db, now=utcnow() + timedelta(days=31)) == 1

    [left] = _deliveries(session)
    assert left.status == DeliveryStatus.QUEUED
    assert len(session.exec(select(WebhookEvent)).all()) == 1


class _Receiver(BaseHTTPRequestHandler):
    """A receiver as the spec asks: verify, then process each webhook-id once."""

    secret = ""
    seen: list[str] = []  # noqa: RUF012 - the server's shared record
    processed: set[str] = set()  # noqa: RUF012
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        headers = {k: v for k, v in self.headers.items()}
        Webhook(self.secret).verify(body, headers)
        with self.lock:
            self.seen.append(headers["webhook-id"])
            self.processed.add(headers["webhook-id"])
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_real_receiver_on_loopback_gets_each_event_once(db: Engine, session: Session) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        agency = make_agency(session)
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        _, secret = _endpoint(session, agency, url=url)
        _Receiver.secret, _Receiver.seen, _Receiver.processed = secret, [], set()
        ids = {_emit(session, agency, n=n) for n in range(5)}

        assert deliver_webhooks(db, "w1") == 5
        assert deliver_webhooks(db, "w2") == 0

        assert sorted(_Receiver.seen) == sorted(ids)
        assert {d.status for d in _deliveries(session)} == {DeliveryStatus.DELIVERED}
    finally:
        server.shutdown()
        server.server_close()


def test_payload_is_stored_as_sent(db: Engine, session: Session) -> None:
    agency = make_agency(session)
    _endpoint(session, agency)
    _emit(session, agency, when=utcnow())
    [event] = session.exec(select(WebhookEvent)).all()
    document = json.loads(event.payload)
    assert document["type"] == "post.approved"
    assert document["data"]["when"].endswith("Z")
