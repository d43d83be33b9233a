"""Web Push (RFC 8030, 8291, 8292): notices to the devices an ASN subscribed from the inbox.

An ASN subscribes each device (phone, laptop) from the inbox; the browser hands the inbox a
push-service endpoint and two keys, stored in ``push_subscription`` (the endpoint and the
auth secret encrypted, gaung.crypto). A notice is encrypted per device (``aes128gcm``,
RFC 8291) and POSTed to the endpoint with a VAPID ``Authorization`` (RFC 8292), signed with
the instance's key pair (``vapid_key``, created by ``gaung init`` or on first use, the
private key encrypted).

The sender is built for throughput: one process-wide event loop in a thread holds the
connections, so pushes to one origin share them: HTTP/2 through the lean client of
``channels.h2push`` (many streams per connection, one write per turn of the loop) where
the push service offers it, else one pooled ``httpx.AsyncClient``; each origin gets a
bounded number of requests in flight, one VAPID header reused until shortly before it
expires, and a ``429``'s ``Retry-After`` holds every further push to that origin.

What a push service answers means (RFC 8030 §5, §7):
- ``201``/``202``: accepted;
- ``404``/``410``: the subscription is gone: it is deleted, the device forgotten;
- ``429`` (with ``Retry-After``), ``5xx``, a refused or timed-out connection: try later;
- no answer after the request went out (read timeout, reset): the push service may have
  accepted it, so the outcome is *unknown* and it is not repeated;
- anything else (``400``, ``401``/``403`` VAPID refused, ``413``): not with this message.

``scheduler.push`` sends the outbox's push notices in batches through :func:`send_many`;
the registry entry (``messenger``) sends a single one the same way.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import select as io_select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, String, delete, func, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, Session, SQLModel, col
from sqlmodel import select as model_select

from channels import h2push
from channels.messaging import (
    OutgoingMessage,
    PermanentSendError,
    SendError,
    SendResult,
    TransientSendError,
)
from gaung import crypto
from gaung.db import get_engine, utcnow
from gaung.errors import N_, GaungError
from gaung.settings import get_settings

log = logging.getLogger(__name__)

SLUG = "webpush"
# One record: the whole notice must fit in it (RFC 8291 §4: 4096 octets, padding included).
RECORD_SIZE = 4096
MAX_PAYLOAD = RECORD_SIZE - 17 - 86  # AEAD tag, delimiter, and the header's share
MAX_ENDPOINT = 2000
MAX_LABEL = 100
MAX_DEVICES = 10  # per ASN; an eleventh subscription is refused with this number
# A VAPID token lives 12 hours (RFC 8292 allows up to 24) and is renewed 1 hour before.
VAPID_LIFETIME = 12 * 3600
VAPID_RENEW_BEFORE = 3600
DEFAULT_RETRY_AFTER = 60.0
UNREACHABLE_HOLD = 30.0  # seconds without pushes to a push service that timed out or refused
_P256 = ec.SECP256R1()


# --- storage -------------------------------------------------------------------------------


class PushSubscription(SQLModel, table=True):
    """One device of one ASN: where its push service takes notices, and its keys."""

    __tablename__ = "push_subscription"
    id: int | None = Field(default=None, primary_key=True)
    asn_id: int = Field(foreign_key="asn.id", index=True)
    # A capability URL: whoever holds it (and the VAPID key) can notify the device.
    endpoint: str = Field(sa_column=Column(crypto.EncryptedString(), nullable=False))
    endpoint_hash: str = Field(max_length=64, unique=True)  # sha256 hex: one row per device
    origin: str = Field(max_length=200)  # scheme://host[:port] of the push service
    p256dh: str = Field(max_length=100)  # the device's public key, base64url
    auth: str = Field(sa_column=Column(crypto.EncryptedString(), nullable=False))
    label: str = Field(default="", max_length=MAX_LABEL)  # "Chrome on Android", for the ASN
    created_at: datetime = Field(default_factory=utcnow)
    last_success_at: datetime | None = None


class VapidKey(SQLModel, table=True):
    """The instance's VAPID key pair (one row): browsers bind subscriptions to its public key."""

    __tablename__ = "vapid_key"
    id: int = Field(default=1, primary_key=True)
    private_key: str = Field(sa_column=Column(crypto.EncryptedString(), nullable=False))
    public_key: str = Field(max_length=100)  # uncompressed P-256 point, base64url
    created_at: datetime = Field(default_factory=utcnow)


_subscriptions = PushSubscription.__table__  # type: ignore[attr-defined]
_vapid = VapidKey.__table__  # type: ignore[attr-defined]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def new_vapid_pair() -> tuple[str, str]:
    """(private scalar, public point), both base64url, as the browser's API wants them."""
    key = ec.generate_private_key(_P256)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(scalar), b64url(_point(key.public_key()))


def ensure_vapid_key(engine: Engine | None = None) -> str:
    """The VAPID public key, creating the pair first if there is none (``gaung init``)."""
    engine = engine or get_engine()
    with engine.connect() as conn:
        found = conn.execute(select(_vapid.c.public_key).where(_vapid.c.id == 1)).scalar()
    if found:
        return str(found)
    private, public = new_vapid_pair()
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with engine.begin() as conn:
        # Two processes may race on first use: the first pair stored wins, both use it.
        conn.execute(
            insert(_vapid)
            .values(id=1, private_key=private, public_key=public, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["id"])
        )
        stored = conn.execute(select(_vapid.c.public_key).where(_vapid.c.id == 1)).scalar()
        return str(stored)


def _vapid_private(engine: Engine) -> ec.EllipticCurvePrivateKey:
    ensure_vapid_key(engine)
    with engine.connect() as conn:
        scalar = conn.execute(select(_vapid.c.private_key).where(_vapid.c.id == 1)).scalar_one()
    return ec.derive_private_key(int.from_bytes(b64url_decode(scalar), "big"), _P256)


# --- subscriptions (the inbox) -------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    """A subscription as the ASN sees it in the inbox settings."""

    id: int
    label: str
    origin: str
    created_at: datetime
    last_success_at: datetime | None


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}".lower()


def endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def _check_endpoint(endpoint: Any) -> str:
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise GaungError(N_("The subscription has no endpoint."), field="endpoint")
    endpoint = endpoint.strip()
    if len(endpoint) > MAX_ENDPOINT:
        raise GaungError(
            N_("The endpoint is longer than %(max)s characters."),
            field="endpoint",
            max=MAX_ENDPOINT,
        )
    parts = urlsplit(endpoint)
    local = parts.hostname in ("127.0.0.1", "localhost") and get_settings().sandbox.enabled
    if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
        raise GaungError(N_("The endpoint must be an https:// address."), field="endpoint")
    return str(endpoint)


def _check_key(value: Any, name: str, size: int) -> str:
    try:
        raw = b64url_decode(value) if isinstance(value, str) else b""
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != size:
        raise GaungError(
            N_("The key %(name)s must be %(size)s bytes in base64url."),
            field=name,
            name=name,
            size=size,
        )
    if name == "p256dh":
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(_P256, raw)
        except ValueError:
            raise GaungError(
                N_("The key p256dh is not a point on the P-256 curve."), field=name
            ) from None
    return b64url(raw)


def subscribe(session: Session, asn_id: int, data: Any, label: str = "") -> PushSubscription:
    """Store the device a browser subscribed (``PushSubscription.toJSON()``), or refresh it.

    The same endpoint again (the device subscribed anew, or another ASN signed in on it)
    replaces the keys and moves it to ``asn_id``. Checks everything before writing; commits.
    """
    if not isinstance(data, dict):
        raise GaungError(N_("The subscription must be a JSON object."), field="subscription")
    endpoint = _check_endpoint(data.get("endpoint"))
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise GaungError(N_("The subscription has no keys."), field="keys")
    p256dh = _check_key(keys.get("p256dh"), "p256dh", 65)
    auth = _check_key(keys.get("auth"), "auth", 16)
    label = " ".join(str(label or "").split())[:MAX_LABEL]
    digest = endpoint_hash(endpoint)
    found = session.exec(
        model_select(PushSubscription).where(col(PushSubscription.endpoint_hash) == digest)
    ).first()
    if found is None or found.asn_id != asn_id:
        count = session.exec(
            model_select(func.count()).where(col(PushSubscription.asn_id) == asn_id)
        ).one()
        if int(count) >= MAX_DEVICES:
            raise GaungError(
                N_("You can receive notifications on at most %(max)s devices; remove one first."),
                field="subscription",
                max=MAX_DEVICES,
            )
    row = found or PushSubscription(
        asn_id=asn_id, endpoint=endpoint, endpoint_hash=digest, origin="", p256dh="", auth=""
    )
    row.asn_id, row.endpoint, row.origin = asn_id, endpoint, _origin(endpoint)
    row.p256dh, row.auth, row.label = p256dh, auth, label or row.label
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def unsubscribe(
    session: Session, asn_id: int, *, id: int | None = None, endpoint: str = ""
) -> bool:
    """Forget one of the ASN's devices, by id or endpoint; False if it was not theirs. Commits."""
    query = delete(_subscriptions).where(_subscriptions.c.asn_id == asn_id)
    if id is not None:
        query = query.where(_subscriptions.c.id == id)
    elif endpoint:
        query = query.where(_subscriptions.c.endpoint_hash == endpoint_hash(endpoint.strip()))
    else:
        return False
    gone = session.connection().execute(query).rowcount
    session.commit()
    return bool(gone)


def devices(session: Session, asn_id: int) -> list[Device]:
    rows = session.connection().execute(
        select(
            _subscriptions.c.id,
            _subscriptions.c.label,
            _subscriptions.c.origin,
            _subscriptions.c.created_at,
            _subscriptions.c.last_success_at,
        )
        .where(_subscriptions.c.asn_id == asn_id)
        .order_by(_subscriptions.c.created_at, _subscriptions.c.id)
    )
    return [Device(*row) for row in rows]


def export_personal_data(session: Session, asn: Any) -> dict[str, Any]:
    """Privacy export: the devices (no endpoint or keys: those are the push service's)."""
    return {
        "push_devices": [
            {
                "label": d.label,
                "push_service": d.origin,
                "since": d.created_at.isoformat(),
                "last_notified": d.last_success_at.isoformat() if d.last_success_at else None,
            }
            for d in devices(session, asn.id)
        ]
    }


def erase_personal_data(session: Session, asn: Any) -> None:
    """Privacy erasure: the ASN leaves, their devices are forgotten (no commit)."""
    session.connection().execute(delete(_subscriptions).where(_subscriptions.c.asn_id == asn.id))


# --- encryption (RFC 8291) -----------------------------------------------------------------


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 with one block of output (length <= 32), as RFC 8291 only ever needs."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


def encrypt(payload: bytes, p256dh: bytes, auth: bytes, *, salt: bytes | None = None) -> bytes:
    """The ``aes128gcm`` body for one device: header (salt, record size, our public key), then
    one record holding ``payload`` and the last-record delimiter. A fresh key pair and salt
    per message, as RFC 8291 requires."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"push payload longer than {MAX_PAYLOAD} bytes")
    device = ec.EllipticCurvePublicKey.from_encoded_point(_P256, p256dh)
    ours = ec.generate_private_key(_P256)
    our_point = _point(ours.public_key())
    secret = ours.exchange(ec.ECDH(), device)
    ikm = _hkdf(auth, secret, b"WebPush: info\x00" + p256dh + our_point, 32)
    salt = salt or os.urandom(16)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    header = salt + struct.pack("!IB", RECORD_SIZE, len(our_point)) + our_point
    return header + AESGCM(cek).encrypt(nonce, payload + b"\x02", None)


def decrypt(body: bytes, private: ec.EllipticCurvePrivateKey, auth: bytes) -> bytes:
    """What a browser does with a push body (the sandbox's push service checks with it)."""
    if len(body) < 21:
        raise ValueError("aes128gcm body shorter than its header")
    salt, (record_size, id_length) = body[:16], struct.unpack("!IB", body[16:21])
    their_point = body[21 : 21 + id_length]
    records = body[21 + id_length :]
    if id_length != 65 or record_size < 18 or len(records) > record_size:
        raise ValueError("aes128gcm header is not one P-256 key and one record")
    device_point = _point(private.public_key())
    secret = private.exchange(
        ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(_P256, their_point)
    )
    ikm = _hkdf(auth, secret, b"WebPush: info\x00" + device_point + their_point, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    try:
        plain = AESGCM(cek).decrypt(nonce, records, None).rstrip(b"\x00")
    except InvalidTag:
        raise ValueError("aes128gcm record does not decrypt (wrong keys or altered)") from None
    if not plain.endswith(b"\x02"):
        raise ValueError("aes128gcm record is not the last one")
    return plain[:-1]


# --- VAPID (RFC 8292) ----------------------------------------------------------------------


def vapid_token(key: ec.EllipticCurvePrivateKey, audience: str, subject: str, expires: int) -> str:
    """A JWT (ES256) saying who sends to ``audience`` (the push service's origin) until when."""
    header = b64url(b'{"typ":"JWT","alg":"ES256"}')
    claims = b64url(json.dumps({"aud": audience, "exp": expires, "sub": subject}).encode())
    signing_input = f"{header}.{claims}".encode()
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return f"{header}.{claims}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def verify_vapid(authorization: str, audience: str, now: float | None = None) -> str:
    """Check an ``Authorization: vapid t=..., k=...`` header; returns the public key (k).

    Raises ValueError saying what is wrong (the sandbox's push service answers 401 with it).
    """
    scheme, _, rest = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError("Authorization is not the vapid scheme")
    params = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
    token, public = params.get("t", ""), params.get("k", "")
    try:
        header, claims, signature = token.split(".")
        key = ec.EllipticCurvePublicKey.from_encoded_point(_P256, b64url_decode(public))
        raw = b64url_decode(signature)
        if len(raw) != 64:
            raise ValueError("signature is not 64 bytes")
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        body = json.loads(b64url_decode(claims))
    except (ValueError, InvalidSignature) as exc:
        raise ValueError(f"VAPID token invalid: {exc or type(exc).__name__}") from None
    if body.get("aud") != audience:
        raise ValueError(f"VAPID aud {body.get('aud')!r} is not {audience!r}")
    if not isinstance(body.get("exp"), int) or body["exp"] <= (now or time.time()):
        raise ValueError("VAPID token expired")
    if body["exp"] > (now or time.time()) + 24 * 3600:
        raise ValueError("VAPID exp more than 24 hours ahead")
    if not str(body.get("sub", "")).startswith(("mailto:", "https:")):
        raise ValueError("VAPID sub is not a mailto: or https: URL")
    return public


# --- sending -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)  # thousands per batch: no __dict__ each
class Target:
    """One device to notify: its subscription id (to forget it when gone) and keys."""

    subscription_id: int
    endpoint: str
    p256dh: bytes
    auth: bytes


@dataclass(frozen=True, slots=True)  # thousands per batch: no __dict__ each
class Notice:
    """What the service worker shows (web/static/sw.js): JSON, encrypted per device."""

    title: str
    body: str
    url: str
    tag: str
    urgent: bool = False

    def payload(self) -> bytes:
        data = {"title": self.title, "body": self.body, "url": self.url, "tag": self.tag}
        data["urgent"] = self.urgent  # type: ignore[assignment]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)  # thousands per batch: no __dict__ each
class Answer:
    """What one push service said about one device. ``status`` 0: no HTTP answer."""

    status: int
    retry_after: float | None = None
    detail: str = ""
    location: str = ""
    # True when the request may have reached the push service (no answer after sending it).
    maybe_sent: bool = False

    @property
    def accepted(self) -> bool:
        return self.status in (200, 201, 202)

    @property
    def gone(self) -> bool:
        return self.status in (404, 410)

    @property
    def transient(self) -> bool:
        return (
            self.status == 429 or self.status >= 500 or (self.status == 0 and not self.maybe_sent)
        )


class _CoalescedStream(httpcore.AsyncNetworkStream):
    """Holds what httpcore writes and sends it in one call: when httpcore next reads, or at
    the event loop's next turn, whichever comes first.

    httpcore writes a request's head and body separately (two packets, two system calls per
    push); over HTTP/2, every stream writes its own frames. Sending at the next turn of the
    loop gathers all the frames written meanwhile, from any stream, into one write, and a
    read never waits on something still held.
    """

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._lock = asyncio.Lock()
        self._scheduled: asyncio.Task[None] | None = None
        # The pool asks "is_readable" of every idle connection for every request; anyio
        # rebuilds its table of extra attributes each time it is asked, so keep the socket.
        self._socket = stream.get_extra_info("socket")

    async def _flush(self, timeout: float | None) -> None:
        async with self._lock:  # one write at a time on the socket
            if self._pending:
                data = b"".join(self._pending)
                self._pending.clear()
                await self._stream.write(data, timeout)

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0)  # let the other streams of this turn write first
        self._scheduled = None
        try:
            await self._flush(None)
        except Exception:  # the next read or write meets it again
            return

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._pending.append(buffer)
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().create_task(self._flush_soon())

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._flush(timeout)
        return await self._stream.read(max_bytes, timeout)

    async def aclose(self) -> None:
        self._pending.clear()
        if self._scheduled is not None:
            self._scheduled.cancel()
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        await self._flush(timeout)
        return _CoalescedStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "socket" and self._socket is not None:
            return self._socket
        if info == "is_readable" and isinstance(self._socket, socket.socket):
            return _readable(self._socket)
        return self._stream.get_extra_info(info)


def _readable(sock: socket.socket) -> bool:
    """True when the peer closed or sent something unasked (httpcore's test for a stale
    keep-alive connection), without blocking."""
    try:
        if sock.fileno() < 0:
            return True
        poller = io_select.poll()
        poller.register(sock, io_select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class _CoalescingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _CoalescedStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def _transport(concurrency: int, cleartext_http2: bool = False) -> httpx.AsyncBaseTransport:
    """httpx's pooled transport (HTTP/2 where the push service offers it), sends coalesced.

    ``cleartext_http2``: HTTP/2 to ``http://`` push services too, without asking first
    (prior knowledge): the benchmark's local push service (channels/sandbox/push_h2.py).
    """
    # As many connections as requests in flight per push service: the pool looks at each
    # of them for every request, so spares only cost.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport = httpx.AsyncHTTPTransport(http1=not cleartext_http2, http2=True, limits=limits)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.AsyncNetworkBackend):  # else httpx changed: plain sends
        pool._network_backend = _CoalescingBackend(backend)  # type: ignore[union-attr]
    return transport


@dataclass
class _Origin:
    semaphore: asyncio.Semaphore
    vapid: tuple[str, float] | None = None  # (header, renew at: epoch seconds)
    held_until: float = 0.0  # monotonic: a 429 said not before then
    http1: bool = False  # offers no HTTP/2 (ALPN): pushed to through httpx
    # The headers every HTTP/2 push to it repeats, by urgency, for the VAPID header they hold.
    h2_headers: dict[bool, tuple[str, tuple[tuple[bytes, bytes], ...]]] = field(
        default_factory=dict
    )


class _Batch:
    """The pushes of one ``push_all`` to one origin still waiting for their answer."""

    __slots__ = ("finished", "waiting")

    def __init__(self) -> None:
        self.waiting = 0
        self.finished: asyncio.Future[None] | None = None

    def settle(self) -> None:
        self.waiting -= 1
        if not self.waiting and self.finished is not None and not self.finished.done():
            self.finished.set_result(None)


@dataclass
class Sender:
    """Pushes over one pooled ``httpx.AsyncClient``; lives in one event loop (see ``_Loop``)."""

    key: ec.EllipticCurvePrivateKey
    subject: str
    concurrency: int = 8
    timeout: float = 10.0
    ttl: int = 24 * 3600
    transport: httpx.AsyncBaseTransport | None = None
    cleartext_http2: bool = False
    _client: httpx.AsyncClient | None = None
    _h2: h2push.Client | None = None
    _origins: dict[str, _Origin] = field(default_factory=dict)
    _public: str = ""

    def __post_init__(self) -> None:
        self._public = b64url(_point(self.key.public_key()))

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                http2=True,
                transport=self.transport or _transport(self.concurrency, self.cleartext_http2),
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)),
            )
        return self._client

    def h2_client(self) -> h2push.Client:
        if self._h2 is None:
            self._h2 = h2push.Client(timeout=self.timeout, connect_timeout=min(self.timeout, 5.0))
        return self._h2

    def _lean(self, name: str, state: _Origin) -> bool:
        """Whether pushes to ``name`` take the lean HTTP/2 client (channels.h2push): not
        with a transport given (tests), nor to a push service without HTTP/2."""
        if self.transport is not None or state.http1:
            return False
        return name.startswith("https://") or (self.cleartext_http2 and name.startswith("http://"))

    async def aclose(self) -> None:
        if self._h2 is not None:
            await self._h2.aclose()
            self._h2 = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def origin(self, name: str) -> _Origin:
        found = self._origins.get(name)
        if found is None:
            found = self._origins[name] = _Origin(asyncio.Semaphore(self.concurrency))
        return found

    def authorization(self, origin: str, state: _Origin) -> str:
        """The VAPID header for ``origin``: signed once, reused until an hour before expiry."""
        now = time.time()
        if state.vapid is None or state.vapid[1] <= now:
            expires = int(now) + VAPID_LIFETIME
            token = vapid_token(self.key, origin, self.subject, expires)
            state.vapid = (f"vapid t={token}, k={self._public}", expires - VAPID_RENEW_BEFORE)
        return state.vapid[0]

    async def push(self, target: Target, payload: bytes, *, urgent: bool, topic: str) -> Answer:
        name = _origin(target.endpoint)
        state = self.origin(name)
        async with state.semaphore:
            wait = state.held_until - time.monotonic()
            if wait > 0:  # the push service asked for a pause or did not answer: not now
                return Answer(429, retry_after=wait, detail=f"{name}: held, not sent")
            body = encrypt(payload, target.p256dh, target.auth)
            if self._lean(name, state):
                try:
                    return await self._push_h2(name, state, target, body, urgent, topic)
                except h2push.NoHTTP2Error:
                    state.http1 = True  # from now on through httpx, HTTP/1.1
            headers = {
                "TTL": str(self.ttl),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "Urgency": "high" if urgent else "normal",
                "Authorization": self.authorization(name, state),
            }
            if topic:
                headers["Topic"] = topic
            try:
                response = await self.client().post(target.endpoint, content=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self._unreachable(state)
                return Answer(0, detail=f"{name}: {type(exc).__name__}")
            except httpx.TransportError as exc:
                if isinstance(exc, httpx.TimeoutException):
                    self._unreachable(state)
                # The request may have gone out: whether the device got it is unknown.
                return Answer(0, detail=f"{name}: {type(exc).__name__}", maybe_sent=True)
            return self._answer(name, state, response.status_code, response.headers, response.text)

    def _h2_headers(
        self, name: str, state: _Origin, urgent: bool
    ) -> tuple[tuple[bytes, bytes], ...]:
        """The headers every push of this urgency to ``name`` repeats (the same tuple until
        the VAPID header is renewed, so the connection's HPACK block for it is kept too)."""
        authorization = self.authorization(name, state)
        found = state.h2_headers.get(urgent)
        if found is None or found[0] != authorization:
            headers = (
                (b"ttl", str(self.ttl).encode()),
                (b"content-encoding", b"aes128gcm"),
                (b"content-type", b"application/octet-stream"),
                (b"urgency", b"high" if urgent else b"normal"),
                (b"authorization", authorization.encode()),
            )
            found = state.h2_headers[urgent] = (authorization, headers)
        return found[1]

    async def _push_h2(
        self, name: str, state: _Origin, target: Target, body: bytes, urgent: bool, topic: str
    ) -> Answer:
        literals = ((b"topic", topic.encode()),) if topic else ()
        try:
            response = await self.h2_client().post(
                target.endpoint, self._h2_headers(name, state, urgent), body, literals=literals
            )
        except h2push.ConnectFailedError as exc:
            self._unreachable(state)
            return Answer(0, detail=f"{name}: {exc}"[:200])
        except h2push.PushHTTPError as exc:
            return self._h2_failed(name, state, exc)
        return self._h2_answer(name, state, response)

    def _h2_answer(self, name: str, state: _Origin, response: h2push.Response) -> Answer:
        text = response.text if response.status >= 300 else ""
        return self._answer(name, state, response.status, response.headers, text)

    def _h2_failed(self, name: str, state: _Origin, exc: h2push.PushHTTPError) -> Answer:
        if isinstance(exc, h2push.NoAnswerError):
            if isinstance(exc, h2push.TimedOutError):
                self._unreachable(state)
            # The request may have gone out: whether the device got it is unknown.
            return Answer(0, detail=f"{name}: {exc}"[:200], maybe_sent=True)
        # Not processed (the push service says it did not take it) or not connected.
        return Answer(0, detail=f"{name}: {exc}"[:200])

    def _unreachable(self, state: _Origin) -> None:
        """A push service that does not answer is left alone for a while: the rest of the
        batch is queued again at once instead of each waiting out its own timeout."""
        state.held_until = max(state.held_until, time.monotonic() + UNREACHABLE_HOLD)

    def _answer(
        self, name: str, state: _Origin, status: int, headers: Mapping[str, str], text: str
    ) -> Answer:
        """``headers``: looked up by lower-case name."""
        retry_after = None
        if status == 429 or status == 503:
            retry_after = _retry_after(headers.get("retry-after"))
            if status == 429:
                retry_after = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER
                state.held_until = max(state.held_until, time.monotonic() + retry_after)
        detail = "" if status < 300 else f"{name} {status}: {text[:200]}".strip()
        return Answer(
            status, retry_after=retry_after, detail=detail, location=headers.get("location", "")
        )

    async def push_all(self, items: Sequence[tuple[Target, bytes, bool, str]]) -> list[Answer]:
        """Push every (target, payload, urgent, topic) concurrently; answers in order."""
        answers: list[Answer | None] = [None] * len(items)
        origins: dict[str, list[int]] = {}
        paths: list[bytes] = []
        for n, item in enumerate(items):
            name, path = _split(item[0].endpoint)
            origins.setdefault(name, []).append(n)
            paths.append(path)
        await asyncio.gather(
            *(self._push_origin(name, ns, items, paths, answers) for name, ns in origins.items())
        )
        assert all(answer is not None for answer in answers)
        return answers  # type: ignore[return-value]

    async def _push_origin(
        self,
        name: str,
        numbers: list[int],
        items: Sequence[tuple[Target, bytes, bool, str]],
        paths: list[bytes],
        answers: list[Answer | None],
    ) -> None:
        """The pushes of ``items`` numbered ``numbers``, all to origin ``name``.

        Over HTTP/2 one loop feeds them to the connection as the origin's semaphore lets
        it (``concurrency`` in flight), each answer arriving through a callback: no task
        and no future per push. A push service without HTTP/2 gets a coroutine per push
        through httpx (``push``)."""
        state = self.origin(name)
        batch = _Batch()
        rest: list[int] = []
        for position, n in enumerate(numbers):
            if not self._lean(name, state):
                rest = numbers[position:]
                break
            await state.semaphore.acquire()
            try:
                answer = await self._start_h2(name, state, items[n], paths[n], answers, n, batch)
            except h2push.NoHTTP2Error:
                state.http1 = True  # from now on through httpx, HTTP/1.1
                answer = None
                rest = numbers[position:]
            except BaseException:
                state.semaphore.release()
                raise
            if answer is not None:
                answers[n] = answer
            if answer is not None or rest:
                state.semaphore.release()
            if rest:
                break
        if rest:
            pushed = await asyncio.gather(
                *(
                    self.push(t, p, urgent=u, topic=topic)
                    for t, p, u, topic in (items[n] for n in rest)
                )
            )
            for n, answer in zip(rest, pushed, strict=True):
                answers[n] = answer
        if batch.waiting:
            batch.finished = asyncio.get_running_loop().create_future()
            await batch.finished

    async def _start_h2(
        self,
        name: str,
        state: _Origin,
        item: tuple[Target, bytes, bool, str],
        path: bytes,
        answers: list[Answer | None],
        n: int,
        batch: _Batch,
    ) -> Answer | None:
        """Send one push (holding a permit of the origin's semaphore); its answer comes to
        ``answers[n]`` later. Returns the answer instead when it was not sent."""
        wait = state.held_until - time.monotonic()
        if wait > 0:  # the push service asked for a pause or did not answer: not now
            return Answer(429, retry_after=wait, detail=f"{name}: held, not sent")
        target, payload, urgent, topic = item
        body = encrypt(payload, target.p256dh, target.auth)
        client = self.h2_client()
        conn = client.ready(name)
        if conn is None:
            try:
                conn = await client.connection(name)
            except h2push.ConnectFailedError as exc:
                self._unreachable(state)
                return Answer(0, detail=f"{name}: {exc}"[:200])
        literals = ((b"topic", topic.encode()),) if topic else ()

        def done(result: h2push.Response | h2push.PushHTTPError) -> None:
            if isinstance(result, h2push.Response):
                answers[n] = self._h2_answer(name, state, result)
            else:
                answers[n] = self._h2_failed(name, state, result)
            state.semaphore.release()
            batch.settle()

        try:
            conn.request(path, self._h2_headers(name, state, urgent), literals, body, done)
        except h2push.NotProcessedError as exc:
            return self._h2_failed(name, state, exc)
        batch.waiting += 1
        return None


def _split(endpoint: str) -> tuple[str, bytes]:
    """(origin, request target: path and query) of an endpoint, as ``urlsplit`` gives them;
    the usual ``scheme://host[:port]/path`` without its cost (~3 us a push)."""
    scheme, sep, rest = endpoint.partition("://")
    netloc, slash, path = rest.partition("/")
    if (
        sep
        and slash
        and scheme.isalpha()
        and endpoint.isascii()
        and endpoint.isprintable()
        and "?" not in netloc
        and "#" not in endpoint
    ):
        return f"{scheme}://{netloc}".lower(), ("/" + path).encode()
    parts = urlsplit(endpoint)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"{parts.scheme}://{parts.netloc}".lower(), target.encode()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


class _Loop:
    """A process-wide event loop in a daemon thread, so the pooled client outlives a batch."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self.loop.run_forever, name="gaung-push", daemon=True)
        self.thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


_state: dict[str, Any] = {}
_state_lock = threading.Lock()


def _runtime(engine: Engine) -> tuple[_Loop, Sender]:
    """This process's loop and sender (again after a fork: a child has no loop thread)."""
    with _state_lock:
        loop = _state.get("loop")
        if loop is None or loop.pid != os.getpid():
            loop = _state["loop"] = _Loop()
            _state.pop("sender", None)
        sender = _state.get("sender")
        if sender is None or _state.get("engine") is not engine:
            settings = get_settings().webpush
            sender = _state["sender"] = Sender(
                _vapid_private(engine),
                settings.subject,
                concurrency=settings.concurrency,
                timeout=settings.timeout_seconds,
                ttl=settings.ttl_seconds,
                transport=_state.get("transport"),
                cleartext_http2=settings.cleartext_http2,
            )
            _state["engine"] = engine
        return loop, sender


def use_transport(transport: httpx.AsyncBaseTransport | None) -> None:
    """Send through ``transport`` from now on (tests and the benchmark: the sandbox's app)."""
    with _state_lock:
        _state["transport"] = transport
        _state.pop("sender", None)


def load_targets(engine: Engine, asn_ids: set[int]) -> dict[int, list[Target]]:
    """Each ASN's devices, read at send time.

    A device whose stored endpoint or secret no configured key decrypts (a key dropped
    before ``gaung rotate-key`` ran) is left out and logged: its ASN's other devices, and
    everyone else in the batch, still get their notices.
    """
    found: dict[int, list[Target]] = {}
    columns = (
        _subscriptions.c.asn_id,
        _subscriptions.c.id,
        type_coerce(_subscriptions.c.endpoint, String),
        _subscriptions.c.p256dh,
        type_coerce(_subscriptions.c.auth, String),
    )
    ids = sorted(asn_ids)
    rows: list[Any] = []  # (asn_id, id, endpoint, p256dh, auth)
    with engine.connect() as conn:
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            rows += conn.execute(select(*columns).where(_subscriptions.c.asn_id.in_(chunk))).all()
    # The endpoints and secrets of the whole batch decrypted together (gaung.crypto).
    plain = crypto.decrypt_many([row[2] for row in rows] + [row[4] for row in rows])
    for (asn_id, sid, _, p256dh, _), endpoint, auth in zip(
        rows, plain[: len(rows)], plain[len(rows) :], strict=True
    ):
        if endpoint is None or auth is None:
            log.warning("push subscription %s cannot be decrypted: skipped", sid)
            continue
        target = Target(sid, endpoint, b64url_decode(p256dh), b64url_decode(auth))
        found.setdefault(asn_id, []).append(target)
    return found


@dataclass(frozen=True, slots=True)  # thousands per batch: no __dict__ each
class Outcome:
    """One notice over all of an ASN's devices: ``result`` (sent) or ``error``."""

    result: SendResult | None
    error: SendError | None
    unknown: str = ""  # set when no device accepted it and one may have got it

    @property
    def sent(self) -> bool:
        return self.result is not None


def _combine(answers: list[Answer]) -> Outcome:
    if len(answers) == 1 and answers[0].accepted:  # the usual case: one device, it took it
        found = answers[0].location.rsplit("/", 1)[-1]
        return Outcome(SendResult(f"webpush:1:{found}"[:200]), None)
    accepted = [a for a in answers if a.accepted]
    if accepted:
        ids = ",".join(a.location.rsplit("/", 1)[-1] for a in accepted if a.location)
        return Outcome(SendResult(f"webpush:{len(accepted)}:{ids}"[:200]), None)
    unknown = [a for a in answers if a.maybe_sent]
    if unknown:
        return Outcome(None, None, unknown="; ".join(a.detail for a in unknown)[:500])
    transient = [a for a in answers if a.transient]
    if transient:
        waits = [a.retry_after for a in transient if a.retry_after is not None]
        detail = "; ".join(sorted({a.detail for a in transient}))[:500]
        return Outcome(None, TransientSendError(max(waits) if waits else None, detail))
    if not answers:
        return Outcome(None, PermanentSendError("web push: no device subscribed"))
    if all(a.gone for a in answers):
        return Outcome(None, PermanentSendError("web push: every device unsubscribed"))
    detail = "; ".join(sorted({a.detail for a in answers if not a.gone}))
    return Outcome(None, PermanentSendError(f"web push: {detail}"[:500]))


@dataclass(frozen=True)
class Devices:
    """What a batch of pushes learned about the devices: the ones whose push service said
    they are gone (to delete) and the ones that took a notice (``last_success_at``)."""

    gone: list[int]
    reached: list[int]

    def record(self, conn: Connection) -> None:
        """Write it in the caller's transaction."""
        if self.gone:
            for start in range(0, len(self.gone), 5000):
                chunk = self.gone[start : start + 5000]
                conn.execute(delete(_subscriptions).where(_subscriptions.c.id.in_(chunk)))
        ids = sorted(self.reached)
        now = utcnow()
        for start in range(0, len(ids), 5000):
            conn.execute(
                update(_subscriptions)
                .where(_subscriptions.c.id.in_(ids[start : start + 5000]))
                .values(last_success_at=now)
            )


def push_batch(
    engine: Engine, notices: Sequence[tuple[int, Notice, str]]
) -> tuple[list[Outcome], Devices]:
    """Send each (asn_id, notice, topic) to every device of that ASN: the outcomes in order,
    and what to record about the devices (the caller writes it, with its own changes)."""
    if not notices:
        return [], Devices([], [])
    targets = load_targets(engine, {asn_id for asn_id, _, _ in notices})
    items: list[tuple[Target, bytes, bool, str]] = []
    spans: list[tuple[int, int]] = []
    for asn_id, notice, topic in notices:
        payload = notice.payload()
        start = len(items)
        items += [(t, payload, notice.urgent, topic) for t in targets.get(asn_id, ())]
        spans.append((start, len(items)))
    loop, sender = _runtime(engine)
    answers: list[Answer] = loop.run(sender.push_all(items)) if items else []
    gone = [t.subscription_id for (t, *_), a in zip(items, answers, strict=True) if a.gone]
    reached = [t.subscription_id for (t, *_), a in zip(items, answers, strict=True) if a.accepted]
    return [_combine(answers[start:end]) for start, end in spans], Devices(gone, reached)


def send_many(engine: Engine, notices: Sequence[tuple[int, Notice, str]]) -> list[Outcome]:
    """Send each (asn_id, notice, topic) to every device of that ASN; outcomes in order.

    Devices whose push service says they are gone are deleted; a device that took a notice
    gets ``last_success_at``.
    """
    outcomes, devices = push_batch(engine, notices)
    if devices.gone or devices.reached:
        with engine.begin() as conn:
            devices.record(conn)
    return outcomes


class WebPushMessenger:
    """The registry entry. ``to`` is the ASN's id; ``params`` may carry url, tag, urgent.

    People do not choose it (``person`` is None): it comes on top of their messenger for
    every device they subscribe, and that messenger is the fallback (``falls_back``).
    """

    slug = SLUG
    idempotent = False  # a push service does not deduplicate: a lost push is never repeated
    falls_back = True
    person = None

    def configured(self) -> bool:
        return True  # the key pair is made on first use

    def send(self, message: OutgoingMessage) -> SendResult:
        params = message.params or {}
        notice = Notice(
            title=message.subject,
            body=str(params.get("body") or ""),
            url=str(params.get("url") or get_settings().base_url),
            tag=str(params.get("tag") or message.idempotency_key),
            urgent=bool(params.get("urgent")),
        )
        try:
            asn_id = int(message.to)
        except ValueError:
            raise PermanentSendError("web push: recipient is not an ASN id") from None
        (outcome,) = send_many(get_engine(), [(asn_id, notice, "")])
        if outcome.result is not None:
            return outcome.result
        if outcome.error is not None:
            raise outcome.error
        raise RuntimeError(outcome.unknown)  # outside the contract: recorded as unknown


messenger = WebPushMessenger()
