"""The sandbox's mail catcher: the real e-mail messenger sends to it over SMTP, and its page
lists and shows what arrived without ever running the message's HTML in the page."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from channels.email import EmailMessenger
from channels.messaging import OutgoingMessage
from channels.sandbox.server import SandboxServer
from channels.sandbox.state import World
from gaung.settings import Settings, SmtpSettings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(World(), _free_port(), mail_port=_free_port()).start() as server:
        yield server


def _send(server: SandboxServer, *, to: str, subject: str, text: str, html: str | None) -> None:
    assert server.mail is not None
    messenger = EmailMessenger(
        SmtpSettings(host="127.0.0.1", port=server.mail.port, sender="Gaung <gaung@localhost>")
    )
    messenger.send(
        OutgoingMessage(to=to, subject=subject, text=text, html=html, idempotency_key=subject)
    )


def test_caught_mail_is_listed_newest_first_with_recipient_and_subject(
    sandbox: SandboxServer,
) -> None:
    _send(sandbox, to="budi@kominfo.go.id", subject="Penugasan baru: A", text="a", html=None)
    _send(sandbox, to="siti@kominfo.go.id", subject="Penugasan baru: B", text="b", html=None)

    page = httpx.get(f"{sandbox.url}/sandbox/mail")

    assert page.status_code == 200
    assert page.text.index("Penugasan baru: B") < page.text.index("Penugasan baru: A")
    assert "siti@kominfo.go.id" in page.text
    assert "2 caught" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "/sandbox/mail" in httpx.get(f"{sandbox.url}/sandbox").text


def test_one_mail_shows_its_text_with_clickable_links_and_its_html_only_sandboxed(
    sandbox: SandboxServer,
) -> None:
    html = '<p onclick="steal()">Halo</p><script>alert(1)</script>'
    text = "Buka tugas Anda: http://127.0.0.1:8000/inbox/login/abc?x=1&y=2 <b>bukan tag</b>"
    _send(sandbox, to="budi@kominfo.go.id", subject="Tugas <baru>", text=text, html=html)

    shown = httpx.get(f"{sandbox.url}/sandbox/mail/1")
    framed = httpx.get(f"{sandbox.url}/sandbox/mail/1/html")

    assert shown.status_code == 200
    assert "Tugas &lt;baru&gt;" in shown.text
    assert '<a href="http://127.0.0.1:8000/inbox/login/abc?x=1&amp;y=2">' in shown.text
    assert "&lt;b&gt;bukan tag&lt;/b&gt;" in shown.text
    assert "<script>" not in shown.text  # the HTML part is not inline
    assert "onclick" not in shown.text
    assert "<iframe src='/sandbox/mail/1/html'" in shown.text
    assert "sandbox='allow-popups" in shown.text
    assert framed.text.strip() == html  # shown as sent, but only inside the sandboxed frame
    policy = framed.headers["content-security-policy"]
    assert policy.startswith("sandbox ")  # its own opaque origin, scripts off
    assert "default-src 'none'" in policy
    assert framed.headers["x-content-type-options"] == "nosniff"


def test_an_unknown_mail_is_not_found(sandbox: SandboxServer) -> None:
    assert httpx.get(f"{sandbox.url}/sandbox/mail/99").status_code == 404
    assert httpx.get(f"{sandbox.url}/sandbox/mail/99/html").status_code == 404
    assert "No e-mail caught yet" in httpx.get(f"{sandbox.url}/sandbox/mail").text


def test_sandbox_mode_sends_smtp_to_the_mail_catcher_unless_a_relay_login_is_set() -> None:
    demo = Settings(sandbox={"enabled": True, "port": 9765})
    assert (demo.smtp.host, demo.smtp.port) == ("127.0.0.1", 9766)
    relay = Settings(
        sandbox={"enabled": True, "port": 9765},
        smtp={"host": "smtp.kominfo.go.id", "port": 587, "username": "gaung"},
    )
    assert (relay.smtp.host, relay.smtp.port) == ("smtp.kominfo.go.id", 587)
    off = Settings(smtp={"host": "smtp.kominfo.go.id", "port": 587})
    assert off.smtp.host == "smtp.kominfo.go.id"
