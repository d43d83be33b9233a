"""Email goes to a real SMTP server on loopback; SMTP replies map to send errors."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.email import EmailMessenger, message_id_for
from channels.messaging import MESSENGERS, OutgoingMessage, PermanentSendError, TransientSendError
from gaung.settings import SmtpSettings
from tests.channels.conftest import SmtpServer, SmtpTlsServer, smtp_free_port


def _message(to: str = "budi@kominfo.test", key: str = "assignment-42-notify") -> OutgoingMessage:
    return OutgoingMessage(
        to=to,
        subject="Penugasan baru: HUT RI ke-81",
        text="Halo Budi,\nBuka kotak masuk Anda: http://testserver/inbox",
        html='<p>Halo Budi,</p><p><a href="http://testserver/inbox">Buka</a></p>',
        idempotency_key=key,
    )


def _received(server: SmtpServer) -> EmailMessage:
    (envelope,) = server.recorder.envelopes
    parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_email_is_registered_as_a_messenger() -> None:
    assert isinstance(MESSENGERS["email"], EmailMessenger)


def test_a_message_arrives_with_text_and_html_parts(smtp_server: SmtpServer) -> None:
    result = EmailMessenger(smtp_server.settings).send(_message())

    (envelope,) = smtp_server.recorder.envelopes
    assert envelope.mail_from == "gaung@kominfo.test"
    assert envelope.rcpt_tos == ["budi@kominfo.test"]
    received = _received(smtp_server)
    assert received.get_content_type() == "multipart/alternative"
    assert received["Subject"] == "Penugasan baru: HUT RI ke-81"
    assert received["To"] == "budi@kominfo.test"
    assert received["Message-ID"] == result.provider_id
    text_part = received.get_body(preferencelist=("plain",))
    html_part = received.get_body(preferencelist=("html",))
    assert text_part is not None
    assert html_part is not None
    # SMTP carries CRLF line ends; the text itself is unchanged.
    text = text_part.get_content().replace("\r\n", "\n")
    assert text == "Halo Budi,\nBuka kotak masuk Anda: http://testserver/inbox\n"
    assert '<a href="http://testserver/inbox">Buka</a>' in html_part.get_content()


def test_a_message_without_html_is_plain_text(smtp_server: SmtpServer) -> None:
    plain = OutgoingMessage(
        to="budi@kominfo.test", subject="s", text="only text", html=None, idempotency_key="k"
    )
    EmailMessenger(smtp_server.settings).send(plain)
    received = _received(smtp_server)
    assert received.get_content_type() == "text/plain"
    assert received.get_content().strip() == "only text"


def test_a_resend_carries_the_same_message_id(smtp_server: SmtpServer) -> None:
    messenger = EmailMessenger(smtp_server.settings)
    first = messenger.send(_message(key="assignment-7"))
    second = messenger.send(_message(key="assignment-7"))
    other = messenger.send(_message(key="assignment-8"))
    assert first.provider_id == second.provider_id != other.provider_id
    ids = [
        email.message_from_bytes(e.content, policy=email.policy.default)["Message-ID"]
        for e in smtp_server.recorder.envelopes
    ]
    assert ids == [first.provider_id, first.provider_id, other.provider_id]


@given(key=st.text(min_size=1, max_size=200))
def test_message_ids_are_valid_headers_on_the_sender_domain(key: str) -> None:
    message_id = message_id_for(key, "Gaung <gaung@kominfo.test>")
    assert message_id == message_id_for(key, "Gaung <gaung@kominfo.test>")
    assert message_id.startswith("<")
    assert message_id.endswith("@kominfo.test>")
    header = EmailMessage()
    header["Message-ID"] = message_id
    assert str(header["Message-ID"]) == message_id


def test_a_refused_recipient_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(PermanentSendError, match="550"):
        EmailMessenger(smtp_server.settings).send(_message(to="refused@kominfo.test"))
    assert smtp_server.recorder.envelopes == []


def test_a_temporarily_refused_recipient_is_transient(smtp_server: SmtpServer) -> None:
    with pytest.raises(TransientSendError, match="451"):
        EmailMessenger(smtp_server.settings).send(_message(to="later@kominfo.test"))


def test_a_rejected_message_body_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(PermanentSendError, match="554"):
        EmailMessenger(smtp_server.settings).send(_message(to="dataerror@kominfo.test"))


@pytest.mark.parametrize("address", ["not-an-address", "", "budi@", "a@b\r\nBcc: x@y.test"])
def test_a_malformed_address_is_permanent_without_connecting(address: str) -> None:
    closed = SmtpSettings(host="127.0.0.1", port=smtp_free_port())
    with pytest.raises(PermanentSendError, match="invalid email address"):
        EmailMessenger(closed).send(_message(to=address))


def test_a_refused_connection_is_transient() -> None:
    closed = SmtpSettings(host="127.0.0.1", port=smtp_free_port())
    with pytest.raises(TransientSendError) as caught:
        EmailMessenger(closed).send(_message())
    assert caught.value.retry_after is None


def test_starttls_and_login_when_configured(smtp_tls_server: SmtpTlsServer) -> None:
    messenger = EmailMessenger(smtp_tls_server.settings, tls_context=smtp_tls_server.client_context)
    messenger.send(_message())
    assert _received(smtp_tls_server)["To"] == "budi@kominfo.test"


def test_a_wrong_password_is_permanent(smtp_tls_server: SmtpTlsServer) -> None:
    wrong = smtp_tls_server.settings.model_copy(update={"password": "wrong"})
    messenger = EmailMessenger(wrong, tls_context=smtp_tls_server.client_context)
    with pytest.raises(PermanentSendError, match="535") as caught:
        messenger.send(_message())
    assert "wrong" not in str(caught.value)
    assert smtp_tls_server.recorder.envelopes == []


def test_an_untrusted_certificate_is_not_sent_to(smtp_tls_server: SmtpTlsServer) -> None:
    # The default context trusts only system CAs, not the server's self-signed certificate.
    with pytest.raises(TransientSendError):
        EmailMessenger(smtp_tls_server.settings).send(_message())
    assert smtp_tls_server.recorder.envelopes == []


def test_without_starttls_the_server_refuses_to_accept_mail(
    smtp_tls_server: SmtpTlsServer,
) -> None:
    plain = smtp_tls_server.settings.model_copy(update={"starttls": False, "username": ""})
    with pytest.raises(PermanentSendError, match="530"):
        EmailMessenger(plain).send(_message())
