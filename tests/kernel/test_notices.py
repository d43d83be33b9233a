"""Outbox rows built in Python (reminders, digests): addressed on the person's own messenger."""

from __future__ import annotations

import sqlalchemy
from sqlmodel import Session, col, select

from kernel.notices import Person, Rendered, message_row, queue_rows
from kernel.outbox import NAME, NO_ADDRESS, OutboxMessage, OutboxStatus
from roster.models import Asn
from tests.factories import make_agency, make_asn, make_unit

RENDERED = Rendered(
    subject="Pengingat",
    text=f"Halo {NAME}",
    html=None,
    whatsapp_template="gaung_reminder",
    whatsapp_params={"1": NAME},
)


def _person(session: Session, **changes: object) -> Person:
    """The person as the reminder and digest queries read them from the ``asn`` table."""
    asn = make_asn(session, make_unit(session, make_agency(session)))
    for name, value in changes.items():
        setattr(asn, name, value)
    session.add(asn)
    session.commit()
    # Seven columns: more than sqlmodel's select() is typed for, so SQLAlchemy's own.
    query = sqlalchemy.select(
        col(Asn.id),
        col(Asn.name),
        col(Asn.locale),
        col(Asn.messenger),
        col(Asn.email),
        col(Asn.telegram_chat_id),
        col(Asn.phone),
    ).where(col(Asn.id) == asn.id)
    return Person.from_row(session.execute(query).one())


def test_a_webhook_person_gets_a_queued_message_to_their_phone(session: Session) -> None:
    person = _person(session, messenger="webhook", phone="+6281234567890")

    queue_rows(session.connection(), [message_row(person, RENDERED, key="k:1", kind="reminder")])
    session.commit()

    message = session.exec(select(OutboxMessage)).one()
    assert (message.messenger, message.recipient) == ("webhook", "+6281234567890")
    assert (message.status, message.last_error) == (OutboxStatus.QUEUED, None)
    assert message.text == f"Halo {person.name}"
    # WhatsApp's template is for WhatsApp only: the gateway gets the plain text.
    assert (message.template, message.params) == (None, None)


def test_a_webhook_person_without_a_phone_fails_at_once_for_humas_to_see(
    session: Session,
) -> None:
    person = _person(session, messenger="webhook", phone=None)

    row = message_row(person, RENDERED, key="k:1", kind="reminder")

    assert (row["status"], row["last_error"]) == (OutboxStatus.FAILED, NO_ADDRESS)


def test_a_messenger_nobody_can_choose_fails_as_unknown(session: Session) -> None:
    person = _person(session, messenger="pigeon")

    row = message_row(person, RENDERED, key="k:1", kind="reminder")

    assert (row["status"], row["last_error"]) == (OutboxStatus.FAILED, "unknown messenger")
