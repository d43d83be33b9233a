"""The messenger contract: how Gaung tells an ASN about an assignment.

A messenger (email, Telegram, WhatsApp, an agency's own webhook gateway) sends one
``OutgoingMessage`` and either returns the provider's id for it or raises one of two
errors, so the outbox can decide what to do without knowing the provider:

- ``TransientSendError``: try again later (rate limits, 5xx, timeouts, refused
  connections), optionally no sooner than ``retry_after`` seconds;
- ``PermanentSendError``: retrying cannot help (blocked bot, invalid number, bad
  address, revoked token); ``reason`` says why, for the operator.

The composition root (``wiring``) puts each messenger in ``MESSENGERS`` under its slug.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol, TypeVar

import jinja2

from gaung import i18n
from gaung.i18n import gettext as _
from gaung.settings import PROJECT_ROOT
from kernel.limits import LIMITS
from kernel.outbox import PersonMessenger, register_person_messenger

TEMPLATE_DIR = PROJECT_ROOT / "templates" / "messages"


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail: attached, or shown inside its HTML part when ``content_id``
    is set (the HTML refers to it as ``cid:<content_id>``). Other messengers ignore files."""

    filename: str
    content_type: str  # e.g. "image/png"
    data: bytes
    content_id: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one recipient.

    ``to`` is the messenger's address (email address, Telegram chat id, phone number
    in international format). ``idempotency_key`` is stable across retries, so a
    resend can be recognised. ``template``/``params`` name a provider-side template
    and its values, for messengers that may only start a conversation with one
    (WhatsApp).
    """

    to: str
    subject: str
    text: str
    html: str | None
    idempotency_key: str
    template: str | None = None
    params: dict[str, Any] | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass
class SendResult:
    provider_id: str


class SendError(Exception):
    """A message was not sent."""


class TransientSendError(SendError):
    """Sending failed for now; the same message may be tried again."""

    def __init__(self, retry_after: float | None = None, detail: str = "") -> None:
        self.retry_after = retry_after
        self.detail = detail
        suffix = f" (retry after {retry_after:g}s)" if retry_after is not None else ""
        super().__init__(f"{detail or 'transient failure'}{suffix}")


class PermanentSendError(SendError):
    """Sending this message to this recipient cannot succeed; do not retry."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Messenger(Protocol):
    slug: str
    # True when the provider deduplicates by ``idempotency_key`` (a resend of the same key
    # is answered, not delivered again): only then may a send whose outcome was lost be
    # repeated (scheduler.deliver). Telegram, WhatsApp and SMTP are not.
    idempotent: bool

    @property
    def person(self) -> PersonMessenger | None:
        """How people who choose this messenger are reached; None if people cannot choose it."""
        ...

    def configured(self) -> bool: ...

    def send(self, message: OutgoingMessage) -> SendResult: ...


MESSENGERS: dict[str, Messenger] = {}

M = TypeVar("M", bound=Messenger)


def register(messenger: M) -> M:
    """Put a messenger in ``MESSENGERS`` under its slug, and offer it to people if it says so."""
    MESSENGERS[messenger.slug] = messenger
    if messenger.person is not None:
        register_person_messenger(messenger.person)
    return messenger


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds; None if absent or a date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0)


@lru_cache
def environment() -> jinja2.Environment:
    """Message templates: HTML ones autoescaped, text ones not; a missing variable is an error."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        keep_trailing_newline=True,
    )
    i18n.install(env)
    return env


def _platform_name(platform: str) -> str:
    limits = LIMITS.get(platform)
    return limits.name if limits else platform


def render_assignment_message(
    *,
    asn_name: str,
    campaign_title: str,
    platform: str,
    deadline: datetime,
    inbox_url: str,
    urgent: bool,
    locale: str | None,
    timezone: str | None = None,
) -> tuple[str, str, str]:
    """(subject, text, html) telling an ASN about a new assignment, in their language and
    zone (``timezone``: their unit's or agency's; None: the instance's)."""
    with i18n.use_locale(locale), i18n.use_zone(timezone):
        context = {
            "asn_name": asn_name,
            "campaign_title": campaign_title,
            "platform_name": _platform_name(platform),
            "deadline_text": i18n.format_datetime(deadline, "full"),
            "inbox_url": inbox_url,
            "urgent": urgent,
        }
        if urgent:
            subject = _("URGENT: please repost “%(campaign)s”") % {"campaign": campaign_title}
        else:
            subject = _("New assignment: %(campaign)s") % {"campaign": campaign_title}
        subject = " ".join(subject.split())  # a header: one line
        env = environment()
        text = env.get_template("assignment.txt.j2").render(context)
        html = env.get_template("assignment.html.j2").render(context)
    return subject, text, html
