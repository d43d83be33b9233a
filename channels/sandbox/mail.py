"""The sandbox's mail catcher: an SMTP server on loopback that keeps what it is sent.

``gaung serve --sandbox`` points SMTP at it (``SandboxSettings.take_over``), so the demo's
e-mails (assignment notices, reminders, staff invitations) are delivered for real over SMTP
by ``channels.email`` and can be read at ``/sandbox/mail`` instead of failing against a
mail server that is not there. It accepts every recipient and never relays anything.

aiosmtpd is the optional ``sandbox`` extra (``make demo`` installs it); production
installs never import this module.
"""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from channels.sandbox.state import World

HOST = "127.0.0.1"  # loopback only, like the rest of the sandbox
MAX_BYTES = 2_000_000  # Gaung's notices are a few kilobytes; refuse anything absurd


class MissingExtraError(RuntimeError):
    """aiosmtpd is not installed."""


class _Catcher:
    """aiosmtpd handler: every accepted message goes into the world's mailbox."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        store(self.world, str(envelope.mail_from or ""), tuple(envelope.rcpt_tos), data)
        return "250 Message accepted for delivery"


def store(world: World, sender: str, recipients: tuple[str, ...], data: bytes) -> None:
    """Keep one received message (its text and HTML parts) in ``world``."""
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    world.record_mail(
        sender,
        recipients,
        str(parsed.get("Subject", "")),
        text_part.get_content() if text_part is not None else "",
        html_part.get_content() if html_part is not None else None,
    )


class MailCatcher:
    """aiosmtpd's Controller (its own thread and event loop) on ``HOST:port``."""

    def __init__(self, world: World, port: int) -> None:
        try:
            from aiosmtpd.controller import Controller
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise MissingExtraError(
                "the sandbox's mail catcher needs aiosmtpd: pip install 'gaung[sandbox]'"
            ) from exc
        # aiosmtpd logs every connection at INFO: too chatty beside the server's own log.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.port = port
        self.controller = Controller(
            _Catcher(world), hostname=HOST, port=port, data_size_limit=MAX_BYTES
        )

    def start(self) -> MailCatcher:
        try:
            self.controller.start()
        except (OSError, RuntimeError) as exc:
            where = f"{HOST}:{self.port}"
            raise RuntimeError(f"the sandbox mail catcher could not listen on {where}") from exc
        return self

    def stop(self) -> None:
        self.controller.stop()
