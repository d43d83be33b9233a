"""Proof through a real SMTP server on loopback (aiosmtpd): dispatch -> outbox -> deliver -> mail.

Nothing is faked between the outbox and the server: the messenger is the registered
``email`` one, talking SMTP to a Controller on 127.0.0.1 on a free port.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from content.models import Campaign, CampaignKind, PostStatus
from gaung import i18n
from gaung.settings import SmtpSettings, get_settings
from kernel import ratelimit
from kernel.outbox import OutboxMessage, OutboxStatus
from roster.models import Agency, Asn, Role
from scheduler.deliver import deliver_due
from scheduler.dispatch import dispatch_post
from scheduler.reminders import send_reminders
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from web.app import create_app

LINK = re.compile(r"http://testserver/inbox/login/[A-Za-z0-9._-]+")


@dataclass
class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    received: list[EmailMessage] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        self.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on loopback; Gaung's SMTP settings point at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings = SmtpSettings(
        host="127.0.0.1", port=controller.port, sender="Humas Kominfo <humas@kominfo.test>"
    )
    monkeypatch.setattr(get_settings(), "smtp", settings)
    monkeypatch.setitem(get_settings().rate_limits, "email", 1000.0)
    ratelimit.reset()
    try:
        yield inbox
    finally:
        controller.stop()
        ratelimit.reset()


def _parts(mail: EmailMessage) -> tuple[str, str]:
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def _setup(
    session: Session, count: int = 2, kind: str = CampaignKind.PROGRAM
) -> tuple[list[Asn], Campaign, int]:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency, Role.EDITOR)
    people = [make_asn(session, unit) for _ in range(count)]
    campaign = make_campaign(session, session.get_one(Agency, agency.id), editor, kind=kind)
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    assert post.id is not None
    return people, campaign, post.id


def test_a_dispatched_assignment_arrives_by_mail_with_text_html_link_and_deadline(
    db: Engine, session: Session, mailbox: Inbox
) -> None:
    people, campaign, post_id = _setup(session)

    dispatch_post(db, post_id)
    assert deliver_due(db, "w1", limit=50) == 2

    assert sorted(mailbox.recipients) == sorted(p.email or "" for p in people)
    with i18n.use_locale("id"):
        deadline = i18n.format_datetime(campaign.deadline, "full")
    for mail in mailbox.received:
        assert mail["From"] == "Humas Kominfo <humas@kominfo.test>"
        assert campaign.title in mail["Subject"]
        assert mail["Message-ID"].endswith("@kominfo.test>")
        text, html = _parts(mail)
        person = next(p for p in people if p.email == mail["To"])
        for part in (text, html):
            assert person.name in part
            assert deadline in part
        links = [LINK.findall(part) for part in (text, html)]
        assert links[0]
        assert links[0] == links[1]  # one personal link, the same in both parts
    session.expire_all()
    statuses = session.exec(select(OutboxMessage.status)).all()
    assert statuses == [OutboxStatus.SENT, OutboxStatus.SENT]


def test_the_mailed_link_signs_the_asn_in(
    db: Engine, session: Session, mailbox: Inbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    _people, campaign, post_id = _setup(session, count=1)
    dispatch_post(db, post_id)
    deliver_due(db, "w1", limit=50)
    (mail,) = mailbox.received
    text, _html = _parts(mail)
    found = LINK.search(text)
    assert found is not None
    monkeypatch.setattr(get_settings(), "media_dir", tmp_path / "media")

    with TestClient(create_app()) as browser:
        path = found.group(0).removeprefix("http://testserver")
        response = browser.get(path, follow_redirects=False)
        inbox = browser.get("/inbox")

    assert response.status_code == 303
    assert response.headers["location"] == "/inbox"
    assert inbox.status_code == 200
    assert campaign.title in inbox.text  # signed in as them: their inbox lists it


def test_a_reminder_arrives_by_mail_in_the_asns_language(
    db: Engine, session: Session, mailbox: Inbox
) -> None:
    (person,), campaign, post_id = _setup(session, count=1)
    person.locale = "en"
    session.add(person)
    session.commit()
    dispatch_post(db, post_id)
    deliver_due(db, "w1", limit=50)
    assert campaign.id is not None

    send_reminders(db, campaign.id, 3)
    deliver_due(db, "w1", limit=50)

    notice, reminder = mailbox.received
    assert reminder["Subject"].startswith("Reminder:")
    text, html = _parts(reminder)
    assert "Assignments still open: 3." in text
    assert LINK.search(text)
    assert LINK.search(html)
    session.expire_all()
    keys = session.exec(select(OutboxMessage.key).order_by(col(OutboxMessage.id))).all()
    assert keys[-1] == f"reminder:{campaign.id}:{person.id}:3"
    assert notice["Subject"] != reminder["Subject"]


def test_an_unreachable_mail_server_means_retry_later_not_failure(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = SmtpSettings(host="127.0.0.1", port=_free_port(), sender="Gaung <g@kominfo.test>")
    monkeypatch.setattr(get_settings(), "smtp", closed)
    monkeypatch.setitem(get_settings().rate_limits, "email", 1000.0)
    ratelimit.reset()
    _people, _campaign, post_id = _setup(session, count=1)

    dispatch_post(db, post_id)
    deliver_due(db, "w1", limit=50)

    (message,) = session.exec(select(OutboxMessage)).all()
    assert message.status == OutboxStatus.QUEUED
    assert message.last_error is not None
    assert "SMTP connection" in message.last_error
    ratelimit.reset()
