"""The staff_mail job: a one-time link e-mailed once, and not at all once it is unusable."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from channels import messaging
from channels.messaging import OutgoingMessage, SendResult
from kernel.models import WorkItem
from roster import staff
from roster.models import Role
from scheduler.staff_mail import staff_mail_job
from tests.factories import make_agency, make_user


class Recorder:
    slug = "email"
    idempotent = False

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(provider_id="x")


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setitem(messaging.MESSENGERS, "email", recorder)
    return recorder


def test_the_link_is_mailed_in_the_persons_language(
    db: Engine, session: Session, mailbox: Recorder
) -> None:
    agency = make_agency(session)
    admin, editor = make_user(session, agency, Role.ADMIN), make_user(session, agency)
    assert staff.send_link(session, admin, editor, staff.RESET) is None
    item = session.exec(select(WorkItem).where(WorkItem.kind == "staff_mail")).one()
    staff_mail_job(db, json.loads(item.payload))
    (message,) = mailbox.sent
    assert message.to == editor.email
    assert message.subject == "Atur ulang kata sandi Gaung Anda"
    link = message.text.split("http://testserver/account/set-password/")[1].split()[0]
    assert staff.open_link(session, link) is not None
    staff.use_link(
        session, link, password="kopi tubruk di pagi hujan", confirm="kopi tubruk di pagi hujan"
    )
    staff_mail_job(db, json.loads(item.payload))  # used: never sent again
    assert len(mailbox.sent) == 1
