"""The webhooks console: endpoints, the secret shown once, the delivery log, retry and test."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from standardwebhooks import Webhook

from kernel import webhooks
from kernel.audit import AuditLog
from kernel.webhooks import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint
from roster.models import Agency, Role, User
from scheduler.webhook_deliver import deliver_webhooks
from tests.factories import make_agency, make_user
from tests.web.conftest import csrf_from, login_staff

URL = "https://hooks.example.go.id/gaung"
EN = {"Accept-Language": "en"}
_SECRET = re.compile(r'<code id="secret">(whsec_[^<]+)</code>')


@pytest.fixture
def receiver() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def _admin(session: Session, agency: Agency | None = None) -> User:
    return make_user(session, agency or make_agency(session), Role.ADMIN)


def _create(client: TestClient, url: str = URL, events: tuple[str, ...] = tuple(EventType)) -> str:
    token = csrf_from(client, "/console/webhooks")
    response = client.post(
        "/console/webhooks",
        data={
            "url": url,
            "description": "SIAP helpdesk",
            "events": list(events),
            "csrf_token": token,
        },
        headers=EN,
    )
    assert response.status_code == 200, response.text
    found = _SECRET.search(response.text)
    assert found, "the secret is shown once"
    return found.group(1)


def _endpoint(session: Session) -> WebhookEndpoint:
    session.expire_all()
    return session.exec(select(WebhookEndpoint)).one()


def _deliveries(session: Session) -> list[WebhookDelivery]:
    session.expire_all()
    return list(session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))))


def test_admin_adds_an_endpoint_and_sees_its_secret_once(
    client: TestClient, session: Session
) -> None:
    login_staff(client, _admin(session))

    secret = _create(client, events=(EventType.POST_APPROVED, EventType.FEEDBACK_RECEIVED))

    endpoint = _endpoint(session)
    assert endpoint.secret == secret
    assert endpoint.event_list() == ["feedback.received", "post.approved"]
    assert endpoint.active
    page = client.get(f"/console/webhooks/{endpoint.id}", headers=EN)
    assert page.status_code == 200
    assert secret not in page.text
    listing = client.get("/console/webhooks", headers=EN)
    assert URL in listing.text
    assert "SIAP helpdesk" in listing.text
    audit = session.exec(select(AuditLog).where(AuditLog.action == "webhook.created")).one()
    assert secret not in audit.detail


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.go.id/in", "must start with https://"),
        ("https://user:pw@hooks.example.go.id/", "must not contain a user name"),
    ],
)
def test_bad_addresses_are_refused(
    client: TestClient, session: Session, url: str, message: str
) -> None:
    login_staff(client, _admin(session))
    token = csrf_from(client, "/console/webhooks")
    response = client.post(
        "/console/webhooks",
        data={"url": url, "events": ["post.approved"], "csrf_token": token},
        headers=EN,
    )
    assert response.status_code == 400
    assert message in html.unescape(response.text)
    assert session.exec(select(WebhookEndpoint)).all() == []


def test_only_admins_manage_webhooks(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session), Role.EDITOR))
    assert client.get("/console/webhooks").status_code == 403


def test_delivery_log_lists_failures_and_retry_sends_the_same_event(
    client: TestClient, db: Engine, session: Session, receiver: respx.MockRouter
) -> None:
    admin = _admin(session)
    login_staff(client, admin)
    secret = _create(client)
    endpoint = _endpoint(session)
    route = receiver.post(URL).mock(side_effect=[httpx.Response(404), httpx.Response(200)])
    event_id = webhooks.emit(session, admin.agency_id, EventType.POST_APPROVED, {"post_id": 9})
    session.commit()
    deliver_webhooks(db, "w1")
    [delivery] = _deliveries(session)
    assert delivery.status == DeliveryStatus.FAILED

    page = client.get(f"/console/webhooks/{endpoint.id}", headers=EN)
    assert event_id is not None
    assert event_id in page.text
    assert "HTTP 404" in page.text
    assert "Failed" in page.text
    token = csrf_from(client, f"/console/webhooks/{endpoint.id}")
    retried = client.post(
        f"/console/webhooks/{endpoint.id}/deliveries/{delivery.id}/retry",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert retried.status_code == 303
    [delivery] = _deliveries(session)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.QUEUED, 0)
    deliver_webhooks(db, "w1")

    assert _deliveries(session)[0].status == DeliveryStatus.DELIVERED
    ids = [call.request.headers["webhook-id"] for call in route.calls]
    assert ids == [event_id, event_id]
    last = route.calls.last.request
    assert Webhook(secret).verify(last.content, dict(last.headers))["data"] == {"post_id": 9}
    # A delivered one cannot be retried.
    again = client.post(
        f"/console/webhooks/{endpoint.id}/deliveries/{delivery.id}/retry",
        data={"csrf_token": token},
        headers=EN,
    )
    assert "Only a failed delivery can be retried." in again.text


def test_send_test_event_goes_to_that_endpoint_only(
    client: TestClient, db: Engine, session: Session, receiver: respx.MockRouter
) -> None:
    login_staff(client, _admin(session))
    secret = _create(client, events=(EventType.FEEDBACK_RECEIVED,))
    endpoint = _endpoint(session)
    route = receiver.post(URL).mock(return_value=httpx.Response(202))
    token = csrf_from(client, f"/console/webhooks/{endpoint.id}")

    response = client.post(f"/console/webhooks/{endpoint.id}/test", data={"csrf_token": token})
    deliver_webhooks(db, "w1")

    assert response.status_code == 200
    request = route.calls.last.request
    body = Webhook(secret).verify(request.content, dict(request.headers))
    assert body["type"] == "webhook.test"
    assert body["data"]["endpoint_id"] == endpoint.id
    page = client.get(f"/console/webhooks/{endpoint.id}", headers=EN)
    assert "Delivered" in page.text


def test_admin_edits_and_switches_an_endpoint_off(client: TestClient, session: Session) -> None:
    login_staff(client, _admin(session))
    _create(client)
    endpoint = _endpoint(session)
    token = csrf_from(client, f"/console/webhooks/{endpoint.id}")

    response = client.post(
        f"/console/webhooks/{endpoint.id}",
        data={"url": URL + "/v2", "events": ["post.withdrawn"], "csrf_token": token},
        follow_redirects=False,
    )

    assert response.status_code == 303
    endpoint = _endpoint(session)
    assert (endpoint.url, endpoint.events, endpoint.active) == (
        URL + "/v2",
        "post.withdrawn",
        False,
    )


def test_another_agency_can_neither_see_nor_retry_your_endpoints(
    client: TestClient, db: Engine, session: Session, receiver: respx.MockRouter
) -> None:
    ours = _admin(session)
    login_staff(client, ours)
    _create(client)
    endpoint = _endpoint(session)
    receiver.post(URL).mock(return_value=httpx.Response(410))
    webhooks.emit(session, ours.agency_id, EventType.POST_APPROVED, {"post_id": 1})
    session.commit()
    deliver_webhooks(db, "w1")
    [delivery] = _deliveries(session)
    client.cookies.clear()

    login_staff(client, _admin(session))  # an admin of another agency
    token = csrf_from(client, "/console/webhooks")
    assert URL not in client.get("/console/webhooks").text
    assert client.get(f"/console/webhooks/{endpoint.id}").status_code == 404
    for path in (
        f"/console/webhooks/{endpoint.id}/deliveries/{delivery.id}/retry",
        f"/console/webhooks/{endpoint.id}/test",
        f"/console/webhooks/{endpoint.id}",
    ):
        response = client.post(
            path, data={"csrf_token": token, "url": URL, "events": ["post.approved"]}
        )
        assert response.status_code == 404, path
    assert _deliveries(session)[0].status == DeliveryStatus.FAILED
    assert _endpoint(session).events != "post.approved"
