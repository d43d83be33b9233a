"""Outbound webhooks: the vocabulary, the tables, and ``emit``.

An agency points one or more *endpoints* (an https URL of its own system) at Gaung and
chooses the event types each receives. When something happens (a post approved,
dispatched or withdrawn; an assignment reported or verified; feedback received or
answered) the code that made the change calls :func:`emit` **in its own transaction**:
one ``webhook_event`` row (the exact JSON body that will be sent) and one
``webhook_delivery`` row per active endpoint of the agency that subscribes to the type.
So an event exists iff its change was committed, and each event is delivered at most once
per endpoint by construction (``uq_webhook_delivery_event_endpoint``). An event no
endpoint wants is not stored.

Requests follow the Standard Webhooks spec (https://www.standardwebhooks.com/): headers
``webhook-id`` (the event id, stable across retries), ``webhook-timestamp`` and
``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` over ``id.timestamp.body``, with the
endpoint's ``whsec_`` secret). ``channels.webhooks_out`` signs and sends;
``scheduler.webhook_deliver`` claims due deliveries with a lease and retries with backoff.

Receivers are expected to deduplicate by ``webhook-id`` (the spec asks them to). That is
why, unlike messenger notices, a delivery whose worker died between sending and recording
is sent again, with the same id: the receiver sees it once.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Column, Index, Text, UniqueConstraint, insert, select
from sqlalchemy.engine import Connection
from sqlmodel import Field, Session, SQLModel

from gaung import crypto
from gaung.db import utcnow
from gaung.errors import N_, GaungError
from gaung.settings import get_settings

URL_MAX = 500
DESCRIPTION_MAX = 200
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not one
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes


class EventType(StrEnum):
    POST_APPROVED = "post.approved"
    POST_DISPATCHED = "post.dispatched"
    POST_WITHDRAWN = "post.withdrawn"
    ASSIGNMENT_REPORTED = "assignment.reported"
    ASSIGNMENT_VERIFIED = "assignment.verified"
    FEEDBACK_RECEIVED = "feedback.received"
    FEEDBACK_REPLIED = "feedback.replied"


# Sent by the console's "send test event" to one endpoint, whatever it subscribes to.
TEST_EVENT = "webhook.test"

EVENT_LABELS: dict[str, str] = {
    EventType.POST_APPROVED: N_("A post was approved"),
    EventType.POST_DISPATCHED: N_("A post was dispatched to the ASN"),
    EventType.POST_WITHDRAWN: N_("A post was withdrawn"),
    EventType.ASSIGNMENT_REPORTED: N_("An ASN reported a repost link"),
    EventType.ASSIGNMENT_VERIFIED: N_("A repost was verified"),
    EventType.FEEDBACK_RECEIVED: N_("Feedback from the public arrived"),
    EventType.FEEDBACK_REPLIED: N_("Humas answered feedback from the public"),
    TEST_EVENT: N_("Test event"),
}


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed: a request is being made under a lease
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"
    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    url: str = Field(max_length=URL_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    # The whsec_ secret, Fernet-encrypted at rest (gaung.crypto).
    secret: str = Field(sa_column=Column(crypto.EncryptedString(), nullable=False))
    events: str = Field(default="", max_length=500)  # comma-separated EventType values
    active: bool = True
    # The receiver's Retry-After: nothing is sent to it before then.
    held_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def event_list(self) -> list[str]:
        return [e for e in self.events.split(",") if e]


class WebhookEvent(SQLModel, table=True):
    __tablename__ = "webhook_event"
    id: str = Field(primary_key=True, max_length=40)  # msg_<ULID>, the webhook-id header
    agency_id: int = Field(foreign_key="agency.id", index=True)
    type: str = Field(max_length=40)
    # The request body exactly as signed and sent, on every attempt.
    payload: str = Field(sa_column=Column(Text(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_delivery_event_endpoint"),
        Index("ix_webhook_delivery_due", "status", "run_at"),
        Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(foreign_key="webhook_event.id", max_length=40)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id")
    status: str = Field(default=DeliveryStatus.QUEUED, max_length=20)
    attempts: int = 0
    run_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    worker: str | None = Field(default=None, max_length=100)
    response_code: int | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    # Failed only because attempts ran out on temporary errors (or the endpoint was off).
    retryable: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


_endpoint = WebhookEndpoint.__table__  # type: ignore[attr-defined]
_event = WebhookEvent.__table__  # type: ignore[attr-defined]
_delivery = WebhookDelivery.__table__  # type: ignore[attr-defined]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id() -> str:
    """``msg_`` and a ULID: 48 bits of milliseconds and 80 random bits, sortable by time."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = [_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5)]
    return "msg_" + "".join(chars)


def new_secret() -> str:
    """A signing secret in the spec's form: ``whsec_`` and base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def body(event_type: str, data: Mapping[str, Any], at: datetime) -> str:
    """The JSON body every receiver gets: ``{"type", "timestamp", "data"}``."""
    document = {"type": event_type, "timestamp": _timestamp(at), "data": dict(data)}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _timestamp(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _connection(bind: Session | Connection) -> Connection:
    return bind.connection() if isinstance(bind, Session) else bind


def subscribers(bind: Session | Connection, agency_id: int, event_type: str) -> list[int]:
    """Ids of the agency's active endpoints subscribed to ``event_type``."""
    rows = _connection(bind).execute(
        select(_endpoint.c.id, _endpoint.c.events).where(
            _endpoint.c.agency_id == agency_id, _endpoint.c.active.is_(True)
        )
    )
    return [endpoint_id for endpoint_id, events in rows if event_type in events.split(",")]


def emit(
    bind: Session | Connection, agency_id: int, event_type: str, data: Mapping[str, Any]
) -> str | None:
    """Record one event for the agency's subscribed endpoints, in the caller's transaction.

    Returns the event id, or None when no active endpoint subscribes to the type (then
    nothing is written). No commit: the event exists only if the caller commits its change.
    """
    ids = emit_many(bind, agency_id, event_type, [data])
    return ids[0] if ids else None


def emit_many(
    bind: Session | Connection,
    agency_id: int,
    event_type: str,
    items: Iterable[Mapping[str, Any]],
    *,
    endpoint_ids: Sequence[int] | None = None,
) -> list[str]:
    """One event per item (one endpoint look-up for all); ``endpoint_ids`` overrides it."""
    conn = _connection(bind)
    targets = (
        subscribers(conn, agency_id, event_type) if endpoint_ids is None else list(endpoint_ids)
    )
    items = list(items)
    if not targets or not items:
        return []
    now = utcnow()
    events = [
        {
            "id": new_event_id(),
            "agency_id": agency_id,
            "type": event_type,
            "payload": body(event_type, data, now),
            "created_at": now,
        }
        for data in items
    ]
    conn.execute(insert(_event), events)
    deliveries = [
        {
            "event_id": event["id"],
            "endpoint_id": endpoint_id,
            "status": DeliveryStatus.QUEUED,
            "attempts": 0,
            "run_at": now,
            "retryable": False,
            "created_at": now,
        }
        for event in events
        for endpoint_id in targets
    ]
    conn.execute(insert(_delivery), deliveries)
    return [str(event["id"]) for event in events]


# --- endpoints --------------------------------------------------------------------------

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """An endpoint address: https, or plain http to this machine while Gaung itself runs on
    http (development). No credentials in it, no fragment."""
    url = url.strip()
    if not url:
        raise GaungError(N_("Enter the address of the endpoint."), field="url")
    if len(url) > URL_MAX:
        raise GaungError(
            N_("The address is %(actual)s characters; the limit is %(limit)s."),
            field="url",
            actual=len(url),
            limit=URL_MAX,
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        host, parts = "", None
    if parts is None or not host or any(c.isspace() or ord(c) < 32 for c in url):
        raise GaungError(N_("The address must be a web address such as https://…"), field="url")
    if parts.username or parts.password or parts.fragment:
        raise GaungError(
            N_("The address must not contain a user name, password or #fragment."), field="url"
        )
    scheme = parts.scheme.lower()
    dev = not get_settings().base_url.startswith("https://")
    if scheme == "https" or (scheme == "http" and dev and _loopback(host)):
        return url
    raise GaungError(
        N_("The address must start with https:// (http:// only to this machine, in development)."),
        field="url",
    )


def check_events(events: Iterable[str]) -> str:
    chosen = sorted({e for e in events if e})
    unknown = [e for e in chosen if e not in set(EventType)]
    if unknown or not chosen:
        raise GaungError(N_("Choose at least one event."), field="events")
    return ",".join(chosen)


def check_description(description: str) -> str:
    description = " ".join(description.split())
    if len(description) > DESCRIPTION_MAX:
        raise GaungError(
            N_("The description is %(actual)s characters; the limit is %(limit)s."),
            field="description",
            actual=len(description),
            limit=DESCRIPTION_MAX,
        )
    return description


def create_endpoint(
    session: Session, agency_id: int, *, url: str, events: Iterable[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of the agency and its secret (shown once). No commit."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        agency_id=agency_id,
        url=check_url(url),
        events=check_events(events),
        description=check_description(description),
        secret=secret,
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def update_endpoint(
    session: Session,
    endpoint: WebhookEndpoint,
    *,
    url: str,
    events: Iterable[str],
    description: str,
    active: bool,
) -> WebhookEndpoint:
    """Change an endpoint's address, events, description or whether it is on. No commit."""
    endpoint.url = check_url(url)
    endpoint.events = check_events(events)
    endpoint.description = check_description(description)
    endpoint.active = active
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    return endpoint
