"""Dispatch writes the assignment notices into the outbox, in its own transaction."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from assignments import reporting
from assignments.models import Assignment
from content.models import Campaign, CampaignKind, Post, PostStatus
from kernel.outbox import (
    INBOX_LINK,
    NAME,
    NO_ADDRESS,
    WHATSAPP_TEMPLATE,
    OutboxMessage,
    OutboxStatus,
    message_key,
)
from roster.models import Agency, Asn, Role, Unit, User
from scheduler import dispatch
from scheduler.dispatch import dispatch_post
from scheduler.outbox import write_outbox
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)


def _setup(session: Session) -> tuple[Unit, User]:
    agency = make_agency(session)
    return make_unit(session, agency), make_user(session, agency, Role.EDITOR)


def _post(session: Session, unit: Unit, editor: User, kind: str = CampaignKind.PROGRAM) -> Post:
    agency = session.get_one(Agency, unit.agency_id)
    campaign = make_campaign(session, agency, editor, kind=kind)
    return make_post(session, campaign, editor, status=PostStatus.APPROVED)


def _asn(session: Session, unit: Unit, **changes: object) -> Asn:
    asn = make_asn(session, unit)
    for name, value in changes.items():
        setattr(asn, name, value)
    session.add(asn)
    session.commit()
    return asn


def _messages(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.asn_id))))


def test_dispatch_writes_one_message_per_asn_listing_their_platforms(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    asns = [_asn(session, unit) for _ in range(3)]
    post = _post(session, unit, editor)
    assert post.id is not None

    dispatch_post(db, post.id)

    messages = _messages(session)
    assert [m.asn_id for m in messages] == [a.id for a in asns]
    for asn, message in zip(asns, messages, strict=True):
        assert asn.id is not None
        assert message.key == message_key(post.id, asn.id)
        assert message.status == OutboxStatus.QUEUED
        assert message.messenger == "email"
        assert message.recipient == asn.email
        assert asn.name in message.text
        for platform in ("X", "Facebook", "Instagram"):
            assert platform in message.text
        assignment = session.get_one(Assignment, message.assignment_id)
        assert (assignment.post_id, assignment.asn_id) == (post.id, asn.id)
        # The magic link is minted at send time, never stored.
        assert INBOX_LINK in message.text
        assert "/inbox/login/" not in message.text


def test_messages_are_in_each_asns_language(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    english = _asn(session, unit, locale="en")
    indonesian = _asn(session, unit, locale="id")
    post = _post(session, unit, editor)
    assert post.id is not None
    assert english.id is not None
    assert indonesian.id is not None

    dispatch_post(db, post.id)

    by_asn = {m.asn_id: m for m in _messages(session)}
    assert by_asn[english.id].subject.startswith("New assignment")
    assert by_asn[indonesian.id].subject != by_asn[english.id].subject


def test_the_name_is_escaped_in_html_only(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    _asn(session, unit, name="Budi <b>& Co</b>")
    post = _post(session, unit, editor)
    assert post.id is not None

    dispatch_post(db, post.id)

    (message,) = _messages(session)
    assert "Budi <b>& Co</b>" in message.text
    assert message.html is not None
    assert "Budi &lt;b&gt;&amp; Co&lt;/b&gt;" in message.html
    assert "<b>&" not in message.html


def test_an_asn_without_an_address_gets_a_failed_message_humas_can_see(
    db: Engine, session: Session
) -> None:
    unit, editor = _setup(session)
    no_chat = _asn(session, unit, messenger="telegram", telegram_chat_id=None)
    chat = _asn(session, unit, messenger="telegram", telegram_chat_id="424242")
    no_phone = _asn(session, unit, messenger="whatsapp", phone=None)
    post = _post(session, unit, editor)
    assert post.id is not None
    assert chat.id is not None

    dispatch_post(db, post.id)

    by_asn = {m.asn_id: m for m in _messages(session)}
    for asn in (no_chat, no_phone):
        assert asn.id is not None
        assert by_asn[asn.id].status == OutboxStatus.FAILED
        assert by_asn[asn.id].last_error == NO_ADDRESS
    assert by_asn[chat.id].status == OutboxStatus.QUEUED
    assert by_asn[chat.id].recipient == "424242"


def test_whatsapp_messages_carry_the_template_and_its_values(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    asn = _asn(session, unit, messenger="whatsapp", phone="+6281234567890")
    post = _post(session, unit, editor, kind=CampaignKind.HOAX_CLARIFICATION)
    assert post.id is not None

    dispatch_post(db, post.id)

    (message,) = _messages(session)
    assert message.recipient == "+6281234567890"
    assert message.template == WHATSAPP_TEMPLATE
    assert message.params is not None
    params = json.loads(message.params)
    assert params["1"] == NAME  # filled in at send time, like the link
    assert asn.name in message.text
    assert params["4"] == INBOX_LINK
    assert set(params) == {"1", "2", "3", "4"}


def test_urgent_campaigns_say_so(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    _asn(session, unit, locale="en")
    post = _post(session, unit, editor, kind=CampaignKind.HOAX_CLARIFICATION)
    assert post.id is not None

    dispatch_post(db, post.id)

    (message,) = _messages(session)
    assert message.subject.startswith("URGENT")


def test_a_failing_dispatch_announces_nothing_and_the_retry_sends_each_message_once(
    db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit, editor = _setup(session)
    asn = _asn(session, unit)
    post = _post(session, unit, editor)
    assert post.id is not None

    def explode(conn: Connection, post_id: int) -> None:
        raise RuntimeError("disk full")

    hooks = list(dispatch.after_assignments)
    monkeypatch.setattr(dispatch, "after_assignments", [*hooks, explode])
    with pytest.raises(RuntimeError):
        dispatch_post(db, post.id)

    # The chunks' assignments are committed, but hidden and unannounced until the post is
    # marked dispatched, with its messages, in one transaction.
    assert _messages(session) == []
    assert len(session.exec(select(Assignment)).all()) == 3
    assert reporting.list_for_asn(session, asn) == []
    session.expire_all()
    assert session.get_one(Post, post.id).status == PostStatus.APPROVED

    monkeypatch.setattr(dispatch, "after_assignments", hooks)
    assert dispatch_post(db, post.id) == 3
    assert len(_messages(session)) == 1
    assert len(reporting.list_for_asn(session, asn)) == 3


def test_dispatching_again_writes_no_second_message(db: Engine, session: Session) -> None:
    unit, editor = _setup(session)
    _asn(session, unit)
    _asn(session, unit)
    post = _post(session, unit, editor)
    assert post.id is not None

    dispatch_post(db, post.id)
    assert dispatch_post(db, post.id) == 0
    # Even the hook itself, run again on the same post, adds nothing.
    with db.begin() as conn:
        write_outbox(conn, post.id)

    assert len(_messages(session)) == 2


def test_the_hook_is_registered_once() -> None:
    assert dispatch.after_assignments.count(write_outbox) == 1


def test_each_asn_reads_the_deadline_in_their_own_zone(db: Engine, session: Session) -> None:
    """One post, three zones: the WITA agency's ASN, a WIT unit's, and WIB by default."""
    unit, editor = _setup(session)
    agency = session.get_one(Agency, unit.agency_id)
    agency.timezone = "Asia/Makassar"
    papua = make_unit(session, agency)
    papua.timezone = "Asia/Jayapura"
    session.add_all([agency, papua])
    session.commit()
    other_unit = make_unit(session, make_agency(session))  # no zone: the instance's (WIB)
    wita, wit, wib = _asn(session, unit), _asn(session, papua), _asn(session, other_unit)
    post = _post(session, unit, editor)
    campaign = session.get_one(Campaign, post.campaign_id)
    campaign.deadline = datetime(2036, 12, 7, 0, 0, 41, tzinfo=UTC)
    session.add(campaign)
    session.commit()
    assert post.id is not None
    for asn in (wita, wit, wib):
        make_assignment(session, post, asn, "x")
    with db.begin() as conn:
        write_outbox(conn, post.id)

    shown = {m.asn_id: m for m in _messages(session)}
    for asn, text in ((wita, "08.00 WITA"), (wit, "09.00 WIT"), (wib, "07.00 WIB")):
        message = shown[asn.id or 0]
        assert f"07 Desember 2036 {text}" in message.text
        assert f"07 Desember 2036 {text}" in (message.html or "")
        assert not re.search(r"\d\d\.\d\d\.\d\d", message.text)
