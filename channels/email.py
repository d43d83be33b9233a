"""Email over SMTP (standard library smtplib): a text part and an HTML part, and files.

The Message-ID is derived from the idempotency key, so a message sent twice after
an unknown outcome carries the same id and the resend is recognisable (by the
recipient's client and by anyone searching the mail logs).
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from channels.credentials import overlay
from channels.messaging import (
    OutgoingMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from gaung.db import utcnow
from gaung.errors import N_
from gaung.settings import SmtpSettings, get_settings
from kernel.outbox import PersonMessenger

TIMEOUT_SECONDS = 30.0


def message_id_for(idempotency_key: str, sender: str) -> str:
    """The Message-ID of the message with this idempotency key (same key, same id)."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    _name, address = parseaddr(sender)
    domain = address.rpartition("@")[2] or "localhost"
    return f"<{digest}.gaung@{domain}>"


def _valid_address(value: str) -> bool:
    _name, address = parseaddr(value)
    local, at, domain = address.partition("@")
    return bool(local and at and domain) and not any(c in value for c in "\r\n")


def build_email(message: OutgoingMessage, sender: str) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) ready for smtplib."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = " ".join(message.subject.split())  # a line break would end the header
    email["Date"] = format_datetime(utcnow())
    email["Message-ID"] = message_id_for(message.idempotency_key, sender)
    # Automated notice: ask mail servers not to answer it with out-of-office replies.
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.text)
    if message.html is not None:
        email.add_alternative(message.html, subtype="html")
    inline = [a for a in message.attachments if a.content_id and message.html is not None]
    if inline:
        # multipart/alternative -> the HTML part becomes multipart/related with the images.
        html_part = email.get_body(preferencelist=("html",))
        assert html_part is not None
        for item in inline:
            maintype, _slash, subtype = item.content_type.partition("/")
            html_part.add_related(
                item.data,
                maintype,
                subtype,
                cid=f"<{item.content_id}>",
                disposition="inline",
                filename=item.filename,
            )
    for item in message.attachments:
        if item in inline:
            continue
        maintype, _slash, subtype = item.content_type.partition("/")
        email.add_attachment(item.data, maintype, subtype, filename=item.filename)
    return email


def _by_code(code: int, what: str) -> PermanentSendError | TransientSendError:
    """SMTP reply classes: 4xx means try again later, 5xx means it will never work."""
    if 400 <= code < 500:
        return TransientSendError(detail=f"SMTP {code}: {what}")
    return PermanentSendError(f"SMTP {code}: {what}")


def _decode(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class EmailMessenger:
    slug = "email"
    idempotent = False  # SMTP has no idempotency key: a lost send is never repeated
    person = PersonMessenger(
        "email",
        "email",
        N_("E-mail"),
        address_needed=N_("An e-mail address is needed to send messages by e-mail."),
        carries_sign_in_link=True,
    )

    def __init__(
        self, settings: SmtpSettings | None = None, *, tls_context: ssl.SSLContext | None = None
    ) -> None:
        """``tls_context`` verifies the server's STARTTLS certificate (default: system CAs)."""
        self._settings = settings
        self._tls_context = tls_context

    @property
    def settings(self) -> SmtpSettings:
        return self._settings or overlay("smtp", get_settings().smtp)

    def configured(self) -> bool:
        return bool(self.settings.host and self.settings.sender)

    def send(self, message: OutgoingMessage) -> SendResult:
        if not _valid_address(message.to):
            raise PermanentSendError("invalid email address")
        email = build_email(message, self.settings.sender)
        try:
            self._deliver(email)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_code(code, f"recipient refused: {_decode(reply)}") from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _by_code(exc.smtp_code, f"sender refused: {_decode(exc.smtp_error)}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, _decode(exc.smtp_error)) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentSendError(f"SMTP server does not support: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnects, refused connections, timeouts, DNS failures: try later.
            raise TransientSendError(detail=f"SMTP connection: {exc!r}") from exc
        return SendResult(provider_id=email["Message-ID"])

    def _deliver(self, email: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.host, s.port, timeout=TIMEOUT_SECONDS) as smtp:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=self._tls_context or ssl.create_default_context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password)
            smtp.send_message(email)


messenger = EmailMessenger()
