"""Web Push: RFC 8291 encryption, RFC 8292 VAPID, subscriptions, and what push services answer.

The push service is the sandbox's (channels/sandbox/push.py) on a real port: it decrypts
every body with the subscription's private key and checks the VAPID header.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from channels import webpush
from channels.messaging import PermanentSendError, TransientSendError
from channels.webpush import Notice, PushSubscription, b64url, b64url_decode
from gaung.errors import GaungError
from gaung.settings import get_settings
from tests.channels.push_service import RunningPushService, running_push_service
from tests.factories import make_agency, make_asn, make_unit

# RFC 8291 Appendix A.
RFC_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC_BODY = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmY"
    "WAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexS"
    "gSxsj_Qulcy4a-fN"
)


def _ua_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(
        int.from_bytes(b64url_decode(RFC_UA_PRIVATE), "big"), ec.SECP256R1()
    )


def _point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def test_the_rfc_8291_example_decrypts_to_its_plaintext() -> None:
    body = b64url_decode(RFC_BODY)
    plain = webpush.decrypt(body, _ua_key(), b64url_decode(RFC_AUTH))
    assert plain == b"When I grow up, I want to be a watermelon"


@settings(max_examples=30, deadline=None)
@given(payload=st.binary(max_size=webpush.MAX_PAYLOAD))
def test_any_payload_up_to_the_limit_survives_encryption(payload: bytes) -> None:
    device = _ua_key()
    auth = b"0123456789abcdef"
    body = webpush.encrypt(payload, _point(device), auth)
    assert len(body) <= 21 + 65 + webpush.RECORD_SIZE
    assert webpush.decrypt(body, device, auth) == payload


def test_a_payload_over_one_record_is_refused_and_a_wrong_key_does_not_decrypt() -> None:
    device = _ua_key()
    with pytest.raises(ValueError, match="longer than"):
        webpush.encrypt(b"x" * (webpush.MAX_PAYLOAD + 1), _point(device), b"a" * 16)
    body = webpush.encrypt(b"hello", _point(device), b"a" * 16)
    with pytest.raises(ValueError, match="does not decrypt"):
        webpush.decrypt(body, device, b"b" * 16)
    with pytest.raises(ValueError, match="shorter than its header"):
        webpush.decrypt(body[:10], device, b"a" * 16)


def test_a_vapid_token_verifies_for_its_audience_only_and_not_after_expiry() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = b64url(_point(key))
    expires = int(time.time()) + 3600
    token = webpush.vapid_token(key, "https://push.example", "mailto:humas@example.go.id", expires)
    header = f"vapid t={token}, k={public}"
    assert webpush.verify_vapid(header, "https://push.example") == public
    with pytest.raises(ValueError, match="aud"):
        webpush.verify_vapid(header, "https://other.example")
    with pytest.raises(ValueError, match="expired"):
        webpush.verify_vapid(header, "https://push.example", now=expires + 1)
    other = b64url(_point(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ValueError, match="invalid"):
        webpush.verify_vapid(f"vapid t={token}, k={other}", "https://push.example")
    with pytest.raises(ValueError, match="scheme"):
        webpush.verify_vapid(f"WebPush {token}", "https://push.example")


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/dGhpcyBpcyBhIHRva2Vu:APA91b",
        "https://Updates.Push.Services.Mozilla.com/wpush/v2/gAAAAA",
        "https://web.push.apple.com:443/QGuQyavXutnMHPrTyQrZ?x=1",
        "https://push.example?only=query",
        "https://push.example",
        "https://push.example/path#fragment",
        "http://127.0.0.1:8000/push/send/abc",
        "https://[2001:db8::1]:8443/push/send/abc",
    ],
)
def test_an_endpoint_splits_into_origin_and_request_target_as_urlsplit_says(
    endpoint: str,
) -> None:
    parts = urlsplit(endpoint)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    assert webpush._split(endpoint) == (webpush._origin(endpoint), target.encode())


def test_the_vapid_key_pair_is_made_once_and_its_private_half_stored_encrypted(db: Engine) -> None:
    public = webpush.ensure_vapid_key(db)
    assert webpush.ensure_vapid_key(db) == public
    assert len(b64url_decode(public)) == 65
    with db.connect() as conn:
        raw = conn.exec_driver_sql("SELECT private_key FROM vapid_key").scalar_one()
    assert raw.startswith("gAAAA")  # a Fernet token, not the scalar


# --- subscriptions ---------------------------------------------------------------------------


@pytest.fixture
def sandbox_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings().sandbox, "enabled", True)


@pytest.fixture(scope="module")
def service() -> Iterator[RunningPushService]:
    with running_push_service() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_sender(request: pytest.FixtureRequest) -> Iterator[None]:
    webpush.use_transport(None)
    yield
    webpush.use_transport(None)


def _asn_id(session: Session) -> int:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    assert asn.id is not None
    return asn.id


def test_a_subscription_is_stored_with_its_secrets_encrypted_and_renewed_in_place(
    session: Session, service: RunningPushService, sandbox_enabled: None
) -> None:
    asn_id = _asn_id(session)
    (data,) = service.subscribe()
    row = webpush.subscribe(session, asn_id, data, label="Chrome  on Android")
    assert row.label == "Chrome on Android"
    assert row.origin == service.url
    again = webpush.subscribe(session, asn_id, data)
    assert again.id == row.id
    assert again.label == "Chrome on Android"
    raw = session.connection().exec_driver_sql("SELECT endpoint, auth FROM push_subscription").one()
    assert data["endpoint"] not in raw[0]
    assert raw[1] != data["keys"]["auth"]
    assert [d.label for d in webpush.devices(session, asn_id)] == ["Chrome on Android"]


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ("nope", "subscription", "JSON object"),
        ({"keys": {}}, "endpoint", "no endpoint"),
        ({"endpoint": "ftp://push.example/x", "keys": {}}, "endpoint", "https://"),
        ({"endpoint": "https://push.example/" + "x" * 2000, "keys": {}}, "endpoint", "2000"),
        ({"endpoint": "https://push.example/x"}, "keys", "no keys"),
        (
            {"endpoint": "https://push.example/x", "keys": {"p256dh": "abc", "auth": ""}},
            "p256dh",
            "65",
        ),
        (
            {
                "endpoint": "https://push.example/x",
                "keys": {"p256dh": b64url(b"\x04" + b"\x01" * 64)},
            },
            "p256dh",
            "curve",
        ),
    ],
)
def test_a_malformed_subscription_is_refused_naming_the_field(
    session: Session, data: object, field: str, says: str
) -> None:
    asn_id = _asn_id(session)
    with pytest.raises(GaungError, match=says) as caught:
        webpush.subscribe(session, asn_id, data)
    assert caught.value.field == field
    assert session.exec(select(PushSubscription)).all() == []


def test_a_plain_http_endpoint_is_only_taken_from_the_local_sandbox(
    session: Session, service: RunningPushService
) -> None:
    (data,) = service.subscribe()
    with pytest.raises(GaungError, match="https://"):
        webpush.subscribe(session, _asn_id(session), data)


def test_an_eleventh_device_is_refused_with_the_limit(
    session: Session, service: RunningPushService, sandbox_enabled: None
) -> None:
    asn_id = _asn_id(session)
    for data in service.subscribe(webpush.MAX_DEVICES):
        webpush.subscribe(session, asn_id, data)
    with pytest.raises(GaungError, match="at most 10 devices"):
        webpush.subscribe(session, asn_id, service.subscribe()[0])


# --- sending ---------------------------------------------------------------------------------


def _notice(urgent: bool = False) -> Notice:
    return Notice(
        "Klarifikasi hoaks", "Buka tugasnya.", "https://gaung.example/inbox/7", "t7", urgent
    )


def _subscribed(
    session: Session, service: RunningPushService, devices: int = 1
) -> tuple[int, list[dict[str, object]]]:
    asn_id = _asn_id(session)
    subs = service.subscribe(devices)
    for data in subs:
        webpush.subscribe(session, asn_id, data)
    return asn_id, subs


def test_a_notice_reaches_every_device_decrypted_with_a_verified_vapid_header(
    db: Engine, session: Session, service: RunningPushService, sandbox_enabled: None
) -> None:
    service.reset()
    asn_id, subs = _subscribed(session, service, devices=2)

    (outcome,) = webpush.send_many(db, [(asn_id, _notice(urgent=True), "a7")])

    assert outcome.sent
    assert outcome.result is not None
    assert outcome.result.provider_id.startswith("webpush:2:")
    for data in subs:
        (message,) = service.messages(data)
        assert message == {
            "title": "Klarifikasi hoaks",
            "body": "Buka tugasnya.",
            "url": "https://gaung.example/inbox/7",
            "tag": "t7",
            "urgent": True,
        }
    assert service.state.stats()["rejected"] == 0
    assert all(d.last_success_at is not None for d in webpush.devices(session, asn_id))


def test_the_vapid_header_is_signed_once_per_push_service_and_reused(
    db: Engine, session: Session, service: RunningPushService, sandbox_enabled: None
) -> None:
    service.reset()
    people = [_subscribed(session, service)[0] for _ in range(3)]
    webpush.send_many(db, [(asn_id, _notice(), "") for asn_id in people])
    assert len(service.state._tokens) == 1


def test_a_gone_subscription_is_deleted_and_the_notice_fails_permanently(
    db: Engine, session: Session, service: RunningPushService, sandbox_enabled: None
) -> None:
    service.reset()
    asn_id, (data,) = _subscribed(session, service)
    service.state.subscriptions[service.sid(data)].answer = 410

    (outcome,) = webpush.send_many(db, [(asn_id, _notice(), "")])

    assert isinstance(outcome.error, PermanentSendError)
    assert "unsubscribed" in outcome.error.reason
    assert webpush.devices(session, asn_id) == []


def test_one_gone_device_of_two_still_delivers_on_the_other(
    db: Engine, session: Session, service: RunningPushService, sandbox_enabled: None
) -> None:
    service.reset()
    asn_id, (first, second) = _subscribed(session, service, devices=2)
    service.state.subscriptions[service.sid(first)].answer = 404

    (outcome,) = webpush.send_many(db, [(asn_id, _notice(), "")])

    assert outcome.sent
    assert len(webpush.devices(session, asn_id)) == 1
    assert len(service.messages(second)) == 1


def test_a_429_holds_the_push_service_for_its_retry_after(
    db: Engine, session: Session, service: RunningPushService, sandbox_enabled: None
) -> None:
    service.reset()
    people = [_subscribed(session, service)[0] for _ in range(3)]
    service.state.throttle, service.state.retry_after = 1, 30

    first = webpush.send_many(db, [(people[0], _notice(), "")])
    later = webpush.send_many(db, [(asn_id, _notice(), "") for asn_id in people])

    errors = [o.error for o in first + later]
    assert all(isinstance(e, TransientSendError) for e in errors)
    waits = [e.retry_after for e in errors if isinstance(e, TransientSendError)]
    assert all(w is not None and 25 < w <= 30 for w in waits)
    # Only the first request reached the service: the later ones were held back, unsent.
    assert service.state.stats()["received"] == 0
    assert service.state.throttle == 0


def test_a_500_or_a_refused_connection_is_transient(
    db: Engine, session: Session, service: RunningPushService, sandbox_enabled: None
) -> None:
    service.reset()
    asn_id, _ = _subscribed(session, service)
    service.state.fail = 1
    (outcome,) = webpush.send_many(db, [(asn_id, _notice(), "")])
    assert isinstance(outcome.error, TransientSendError)
    assert "500" in str(outcome.error)

    refused = _asn_id(session)
    data = service.subscribe()[0]
    data["endpoint"] = "http://127.0.0.1:9/push/send/nobody"  # discard port: nothing listens
    webpush.subscribe(session, refused, data)
    (outcome,) = webpush.send_many(db, [(refused, _notice(), "")])
    assert isinstance(outcome.error, TransientSendError)
    assert "ConnectError" in str(outcome.error)


def test_a_push_service_that_hangs_leaves_the_outcome_unknown(
    db: Engine,
    session: Session,
    service: RunningPushService,
    sandbox_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service.reset()
    monkeypatch.setattr(get_settings().webpush, "timeout_seconds", 0.5)
    asn_id, _ = _subscribed(session, service)
    service.state.hang, service.state.hang_seconds = 1, 2.0

    (outcome,) = webpush.send_many(db, [(asn_id, _notice(), "")])

    assert not outcome.sent
    assert outcome.error is None
    assert "ReadTimeout" in outcome.unknown


def test_an_asn_without_devices_gets_a_permanent_error(db: Engine, session: Session) -> None:
    (outcome,) = webpush.send_many(db, [(_asn_id(session), _notice(), "")])
    assert isinstance(outcome.error, PermanentSendError)
    assert "no device" in outcome.error.reason


def test_a_device_no_key_decrypts_is_skipped_and_the_others_still_get_it(
    db: Engine, session: Session, service: RunningPushService, sandbox_enabled: None
) -> None:
    service.reset()
    asn_id, (lost, kept) = _subscribed(session, service, devices=2)
    # Stored under a key that is no longer configured.
    other = Fernet(Fernet.generate_key()).encrypt(b"https://push.example/x").decode()
    session.connection().execute(
        text("UPDATE push_subscription SET endpoint = :token WHERE endpoint_hash = :digest"),
        {"token": other, "digest": webpush.endpoint_hash(str(lost["endpoint"]))},
    )
    session.commit()

    (outcome,) = webpush.send_many(db, [(asn_id, _notice(), "")])

    assert outcome.sent
    assert service.messages(lost) == []
    assert len(service.messages(kept)) == 1


def test_after_a_timeout_the_rest_of_the_batch_waits_instead_of_timing_out_too(
    db: Engine,
    session: Session,
    service: RunningPushService,
    sandbox_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service.reset()
    monkeypatch.setattr(get_settings().webpush, "timeout_seconds", 0.5)
    monkeypatch.setattr(get_settings().webpush, "concurrency", 1)  # one after the other
    people = [_subscribed(session, service)[0] for _ in range(3)]
    service.state.hang, service.state.hang_seconds = 3, 2.0

    first, *rest = webpush.send_many(db, [(asn_id, _notice(), "") for asn_id in people])

    assert "ReadTimeout" in first.unknown
    for outcome in rest:
        assert isinstance(outcome.error, TransientSendError)
        assert "held, not sent" in str(outcome.error)
    assert service.state.hang == 2  # only the first request reached the push service
