"""The inbox's push endpoints and device list, used as the page script uses them."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels import webpush
from gaung.settings import get_settings
from roster.models import Asn
from tests.channels.push_service import RunningPushService, running_push_service
from tests.factories import make_agency, make_asn, make_unit
from tests.web.conftest import csrf_from, login_asn

EN = {"Accept-Language": "en"}


@pytest.fixture(scope="module")
def service() -> Iterator[RunningPushService]:
    with running_push_service() as running:
        yield running


@pytest.fixture(autouse=True)
def sandbox_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local push service's http:// endpoints are accepted (as with ``--sandbox``)."""
    monkeypatch.setattr(get_settings().sandbox, "enabled", True)


@pytest.fixture
def asn(session: Session) -> Asn:
    """An ASN who reads English (the default is Indonesian, see the test for it)."""
    person = make_asn(session, make_unit(session, make_agency(session)))
    person.locale = "en"
    session.add(person)
    session.commit()
    return person


def _signed_in(client: TestClient, asn: Asn) -> str:
    login_asn(client, asn)
    return csrf_from(client, "/inbox/settings")


def _subscribe(
    client: TestClient,
    token: str,
    subscription: object,
    label: str = "Chrome · Android",
    language: dict[str, str] = EN,
) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/inbox/push/subscriptions",
        json={"subscription": subscription, "label": label},
        headers={"X-CSRF-Token": token, **language},
    )
    is_json = response.headers["content-type"].startswith("application/json")
    return response.status_code, response.json() if is_json else {}


def test_a_device_subscribes_shows_in_settings_and_is_removed_with_its_button(
    client: TestClient, asn: Asn, session: Session, service: RunningPushService
) -> None:
    token = _signed_in(client, asn)
    key = client.get("/inbox/push/key").json()["public_key"]
    assert key == webpush.ensure_vapid_key()

    (subscription,) = service.subscribe()
    status, body = _subscribe(client, token, subscription)
    assert status == 201
    assert body["label"] == "Chrome · Android"

    page = client.get("/inbox/settings", headers=EN)
    text = html.unescape(page.text)
    assert "Chrome · Android" in text
    assert 'src="/static/push.js"' in page.text
    assert client.get("/inbox/push/devices").json()["devices"][0]["label"] == "Chrome · Android"

    response = client.post(
        f"/inbox/push/devices/{body['id']}/remove",
        data={"csrf_token": token},
        headers=EN,
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "The device no longer gets notifications." in html.unescape(response.text)
    assert "No device gets notifications yet." in html.unescape(response.text)
    assert asn.id is not None
    assert webpush.devices(session, asn.id) == []


def test_a_device_turning_notifications_off_unsubscribes_itself(
    client: TestClient, asn: Asn, session: Session, service: RunningPushService
) -> None:
    token = _signed_in(client, asn)
    (subscription,) = service.subscribe()
    assert _subscribe(client, token, subscription)[0] == 201

    response = client.post(
        "/inbox/push/unsubscribe",
        json={"endpoint": subscription["endpoint"]},
        headers={"X-CSRF-Token": token},
    )

    assert response.json() == {"removed": True}
    assert asn.id is not None
    assert webpush.devices(session, asn.id) == []


def test_bad_subscriptions_are_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient, asn: Asn, session: Session, service: RunningPushService
) -> None:
    token = _signed_in(client, asn)
    (good,) = service.subscribe()
    cases = [
        ("not an object", "subscription", "must be a JSON object"),
        (
            {**good, "keys": {"p256dh": good["keys"]["p256dh"], "auth": "c2hvcnQ"}},
            "auth",
            "16 bytes",
        ),
        ({**good, "endpoint": "javascript:alert(1)"}, "endpoint", "https://"),
    ]
    for subscription, field, says in cases:
        status, body = _subscribe(client, token, subscription)
        assert status == 400
        assert body["field"] == field
        assert says in str(body["error"])
    huge = client.post(
        "/inbox/push/subscriptions",
        content=b'{"label": "' + b"x" * 9000 + b'"}',
        headers={"X-CSRF-Token": token, "Content-Type": "application/json", **EN},
    )
    assert huge.status_code == 400
    assert "8192 bytes" in huge.json()["error"]
    assert asn.id is not None
    assert webpush.devices(session, asn.id) == []


def test_the_refusal_is_in_indonesian_by_default(
    client: TestClient, session: Session, service: RunningPushService
) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    login_asn(client, asn)
    token = csrf_from(client, "/inbox/settings")
    status, body = _subscribe(client, token, {"keys": {}}, language={})
    assert status == 400
    assert body["error"] == "Langganan tidak memiliki endpoint."


def test_without_sign_in_or_csrf_token_nothing_is_stored(
    client: TestClient, asn: Asn, session: Session, service: RunningPushService, db: Engine
) -> None:
    (subscription,) = service.subscribe()
    assert client.get("/inbox/push/key").status_code == 401
    status, _ = _subscribe(client, "", subscription)
    assert status in (401, 403)

    _signed_in(client, asn)
    response = client.post(
        "/inbox/push/subscriptions", json={"subscription": subscription, "label": ""}
    )
    assert response.status_code == 403
    assert asn.id is not None
    assert webpush.devices(session, asn.id) == []


def test_one_asn_cannot_remove_another_asns_device(
    client: TestClient, asn: Asn, session: Session, service: RunningPushService
) -> None:
    other = make_asn(session, make_unit(session, make_agency(session)))
    assert other.id is not None
    theirs = webpush.subscribe(session, other.id, service.subscribe()[0])
    token = _signed_in(client, asn)

    client.post(f"/inbox/push/devices/{theirs.id}/remove", data={"csrf_token": token})

    assert [d.id for d in webpush.devices(session, other.id)] == [theirs.id]


def test_the_service_worker_is_served_from_the_root_for_the_inbox_scope(
    client: TestClient,
) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/"
    assert "showNotification" in response.text
    assert "notificationclick" in response.text
