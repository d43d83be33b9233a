"""Fixtures for the messenger tests: a real SMTP server on loopback (aiosmtpd) and
channel settings pointing at faked endpoints."""

from __future__ import annotations

import datetime as _dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gaung.settings import SmtpSettings, TelegramSettings, WhatsAppSettings

SMTP_USER = "gaung"
SMTP_PASSWORD = "smtp-secret-password"


def smtp_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler that keeps what it receives and answers by recipient.

    Recipients starting with ``refused`` get 550, ``later`` get 451; a recipient
    starting with ``dataerror`` is accepted but the message is refused with 554.
    """

    envelopes: list[Any] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 Mailbox unavailable"
        if address.startswith("later"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        if any(rcpt.startswith("dataerror") for rcpt in envelope.rcpt_tos):
            return "554 5.6.0 Message content rejected"
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _smtp_authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    recorder: SmtpRecorder
    settings: SmtpSettings


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1 that accepts mail without authentication."""
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=smtp_free_port())
    controller.start()
    try:
        settings = SmtpSettings(
            host="127.0.0.1", port=controller.port, sender="Gaung Kominfo <gaung@kominfo.test>"
        )
        yield SmtpServer(recorder, settings)
    finally:
        controller.stop()


@dataclass
class SmtpTlsServer(SmtpServer):
    client_context: ssl.SSLContext


def _smtp_self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = _dt.datetime.now(_dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def smtp_tls_server(tmp_path: Path) -> Iterator[SmtpTlsServer]:
    """An SMTP server that requires STARTTLS (self-signed certificate) and a login."""
    cert_path, key_path = _smtp_self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    client_context = ssl.create_default_context(cafile=str(cert_path))
    recorder = SmtpRecorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=smtp_free_port(),
        tls_context=server_context,
        require_starttls=True,
        auth_required=True,
        authenticator=_smtp_authenticator,
    )
    controller.start()
    try:
        settings = SmtpSettings(
            host="127.0.0.1",
            port=controller.port,
            sender="Gaung <gaung@kominfo.test>",
            starttls=True,
            username=SMTP_USER,
            password=SMTP_PASSWORD,
        )
        yield SmtpTlsServer(recorder, settings, client_context)
    finally:
        controller.stop()


TG_TOKEN = "123456789:AAE-tg-secret-token-never-shown"
TG_API = "https://api.telegram.org"


@pytest.fixture
def tg_settings() -> TelegramSettings:
    return TelegramSettings(bot_token=TG_TOKEN, api_base_url=TG_API)


WA_TOKEN = "EAAG-wa-secret-access-token-never-shown"
WA_API = "https://graph.facebook.com"
WA_PHONE_NUMBER_ID = "106540352242922"


@pytest.fixture
def wa_settings() -> WhatsAppSettings:
    return WhatsAppSettings(
        access_token=WA_TOKEN,
        phone_number_id=WA_PHONE_NUMBER_ID,
        api_base_url=WA_API,
        api_version="v24.0",
        template_language="id",
    )
