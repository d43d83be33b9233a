"""Humas answers public feedback from the console; the ASN reads it in the inbox and gets
it through their messenger, once."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from assignments import feedback as service
from assignments.feedback import REPLY_MAX, Feedback, FeedbackReply
from assignments.models import Assignment
from content.models import Campaign, Post, PostStatus
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from kernel import webhooks
from kernel.audit import AuditLog
from kernel.outbox import OutboxKind, OutboxMessage, OutboxStatus
from kernel.webhooks import EventType, WebhookEvent
from roster import privacy
from roster.models import Agency, Asn, Role, Unit, User
from scheduler.feedback_reply import message_key
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from tests.web.conftest import csrf_from, login_asn, login_staff

EN = {"Accept-Language": "en"}
_FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')


@pytest.fixture
def post(session: Session) -> Post:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    return make_post(session, campaign, make_user(session, agency), status=PostStatus.DISPATCHED)


def _agency(session: Session, post: Post) -> Agency:
    return session.get_one(Agency, session.get_one(Campaign, post.campaign_id).agency_id)


def _asked(session: Session, post: Post, text: str = "Kapan pendaftarannya dibuka?") -> Feedback:
    """An ASN of the post's agency passed ``text`` on from their assignment."""
    asn = make_asn(session, make_unit(session, _agency(session, post)))
    assignment = make_assignment(session, post, asn)
    assert assignment.id is not None
    return service.submit(session, asn, assignment.id, text)


def _form(client: TestClient, campaign_id: int) -> tuple[str, str]:
    """(csrf token, reply form key) as the console's feedback page gives them."""
    page = client.get(f"/console/campaigns/{campaign_id}/feedback")
    assert page.status_code == 200
    key = _FORM_KEY.search(page.text)
    assert key, "no reply form on the page"
    return csrf_from(client, f"/console/campaigns/{campaign_id}/feedback"), key.group(1)


def _answer(
    client: TestClient, item: Feedback, text: str, form: tuple[str, str] | None = None, **kw: Any
) -> httpx.Response:
    token, key = form or _form(client, item.campaign_id)
    response: httpx.Response = client.post(
        f"/console/feedback/{item.id}/reply",
        data={"csrf_token": token, "form_key": key, "text": text},
        **kw,
    )
    return response


def _outbox(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]


def test_humas_answers_and_the_asn_reads_it_in_the_inbox_and_by_messenger(
    client: TestClient, session: Session, post: Post
) -> None:
    agency = _agency(session, post)
    agency.timezone = "Asia/Makassar"
    session.add(agency)
    session.commit()
    item = _asked(session, post)
    asn = session.get_one(Asn, item.asn_id)
    editor = make_user(session, agency, Role.EDITOR)
    login_staff(client, editor)

    response = _answer(
        client,
        item,
        "  Pendaftaran dibuka 1 Januari di kantor kecamatan.  ",
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/feedback#feedback-{item.id}")
    session.expire_all()
    (answer,) = session.exec(select(FeedbackReply)).all()
    assert answer.text == "Pendaftaran dibuka 1 Januari di kantor kecamatan."
    assert (answer.feedback_id, answer.created_by) == (item.id, editor.id)
    handled = session.get_one(Feedback, item.id)
    assert handled.handled_by == editor.id
    assert handled.handled_at is not None
    (entry,) = session.exec(select(AuditLog).where(AuditLog.action == "feedback.replied")).all()
    assert (entry.entity, entry.entity_id, entry.actor_id) == ("feedback", item.id, editor.id)
    assert "Pendaftaran" not in entry.detail  # ids only in the log
    (message,) = _outbox(session)
    assert message.key == message_key(item.id or 0, answer.id or 0)
    assert (message.kind, message.asn_id, message.status) == (
        OutboxKind.FEEDBACK_REPLY,
        asn.id,
        OutboxStatus.QUEUED,
    )
    assert (message.recipient, message.campaign_id) == (asn.email, post.campaign_id)
    assert message.assignment_id == item.assignment_id
    assert "Pendaftaran dibuka 1 Januari di kantor kecamatan." in message.text
    assert "Kapan pendaftarannya dibuka?" in message.text
    assert asn.name in message.text
    console = client.get(f"/console/campaigns/{post.campaign_id}/feedback")
    assert "Pendaftaran dibuka 1 Januari" in console.text
    assert editor.name in console.text
    assert "Jawaban tersimpan dan dikirim ke ASN" in console.text  # the flash

    login_asn(client, asn)
    inbox = client.get(f"/inbox/{item.assignment_id}")

    assert "Kapan pendaftarannya dibuka?" in inbox.text
    assert "Pendaftaran dibuka 1 Januari di kantor kecamatan." in inbox.text
    assert "Jawaban dari Humas" in inbox.text
    assert "WITA" in inbox.text  # the ASN's zone (their agency's)
    assert editor.name not in inbox.text  # the ASN hears from "Humas", not a staff name


def test_a_double_submitted_answer_is_stored_and_sent_once(
    client: TestClient, session: Session, post: Post
) -> None:
    item = _asked(session, post)
    login_staff(client, make_user(session, _agency(session, post), Role.APPROVER))
    form = _form(client, item.campaign_id)

    first = _answer(client, item, "Jawaban", form, follow_redirects=False)
    again = _answer(client, item, "Jawaban", form, follow_redirects=False)

    assert (first.status_code, again.status_code) == (303, 303)
    session.expire_all()
    assert len(session.exec(select(FeedbackReply)).all()) == 1
    assert len(_outbox(session)) == 1
    assert (
        len(session.exec(select(AuditLog).where(AuditLog.action == "feedback.replied")).all()) == 1
    )


def test_an_answer_is_a_webhook_event_for_subscribed_endpoints(
    session: Session, post: Post
) -> None:
    agency = _agency(session, post)
    assert agency.id is not None
    webhooks.create_endpoint(
        session, agency.id, url="https://humas.example.go.id/hook", events=["feedback.replied"]
    )
    session.commit()
    item = _asked(session, post)
    answer = service.reply(session, make_user(session, agency), item.id or 0, "Ya, gratis.", "k")
    service.reply(session, make_user(session, agency), item.id or 0, "Ya, gratis.", "k")  # again

    (event,) = session.exec(select(WebhookEvent)).all()
    assert event.type == EventType.FEEDBACK_REPLIED
    data = json.loads(event.payload)["data"]
    assert data["feedback_id"] == item.id
    assert data["reply_id"] == answer.id
    assert (data["campaign_id"], data["text"]) == (post.campaign_id, "Ya, gratis.")


def test_a_second_answer_makes_a_thread_and_a_second_message(
    client: TestClient, session: Session, post: Post
) -> None:
    item = _asked(session, post)
    login_staff(client, make_user(session, _agency(session, post), Role.ADMIN))

    _answer(client, item, "Jawaban pertama")
    _answer(client, item, "Tambahan: bawa KTP.")

    session.expire_all()
    texts = [r.text for r in session.exec(select(FeedbackReply).order_by(FeedbackReply.id))]  # type: ignore[arg-type]
    assert texts == ["Jawaban pertama", "Tambahan: bawa KTP."]
    assert [m.text.count("Tambahan: bawa KTP.") for m in _outbox(session)] == [0, 1]
    page = client.get(f"/console/campaigns/{post.campaign_id}/feedback").text
    assert page.index("Jawaban pertama") < page.index("Tambahan: bawa KTP.")


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("   ", None, "Write your answer."),
        (
            "x" * (REPLY_MAX + 1),
            None,
            f"The answer is {REPLY_MAX + 1} characters; the limit is {REPLY_MAX}.",
        ),
        ("Jawaban", "", "This form is out of date. Reload the page and send the answer again."),
        (
            "Jawaban",
            "k" * 65,
            "This form is out of date. Reload the page and send the answer again.",
        ),
    ],
)
def test_a_bad_answer_is_refused_with_the_reason_and_the_text_kept(
    client: TestClient, session: Session, post: Post, text: str, key: str | None, message: str
) -> None:
    item = _asked(session, post)
    login_staff(client, make_user(session, _agency(session, post), Role.EDITOR))
    token, fresh = _form(client, item.campaign_id)

    response = _answer(client, item, text, (token, fresh if key is None else key), headers=EN)

    assert response.status_code == 400
    body = html.unescape(response.text)
    assert message in body
    assert f'id="reply-error-{item.id}"' in body
    if text.strip():
        assert text in body  # kept for correcting
    session.expire_all()
    assert session.exec(select(FeedbackReply)).all() == []
    assert _outbox(session) == []
    assert session.get_one(Feedback, item.id).handled_at is None


def test_answering_needs_the_form_token(client: TestClient, session: Session, post: Post) -> None:
    item = _asked(session, post)
    login_staff(client, make_user(session, _agency(session, post), Role.EDITOR))
    _, key = _form(client, item.campaign_id)

    response = client.post(
        f"/console/feedback/{item.id}/reply", data={"form_key": key, "text": "Jawaban"}
    )

    assert response.status_code == 403
    assert session.exec(select(FeedbackReply)).all() == []


def test_another_agencys_feedback_cannot_be_answered(
    client: TestClient, session: Session, post: Post
) -> None:
    item = _asked(session, post)
    stranger = make_user(session, make_agency(session), Role.EDITOR)
    login_staff(client, stranger)
    token = csrf_from(client, "/console")

    response = client.post(
        f"/console/feedback/{item.id}/reply",
        data={"csrf_token": token, "form_key": "abc", "text": "Jawaban"},
    )
    missing = client.post(
        "/console/feedback/987654/reply",
        data={"csrf_token": token, "form_key": "abc", "text": "Jawaban"},
    )

    assert (response.status_code, missing.status_code) == (404, 404)
    with pytest.raises(NotFoundError):
        service.reply(session, stranger, item.id or 0, "Jawaban", "abc")
    assert session.exec(select(FeedbackReply)).all() == []
    assert _outbox(session) == []


def test_a_supervisor_reads_answers_but_cannot_answer(
    client: TestClient, session: Session, post: Post
) -> None:
    item = _asked(session, post)
    agency = _agency(session, post)
    service.reply(session, make_user(session, agency, Role.EDITOR), item.id or 0, "Sudah", "k1")
    supervisor = make_user(session, agency, Role.SUPERVISOR)
    login_staff(client, supervisor)

    page = client.get(f"/console/campaigns/{post.campaign_id}/feedback")
    token = csrf_from(client, f"/console/campaigns/{post.campaign_id}/feedback")
    response = client.post(
        f"/console/feedback/{item.id}/reply",
        data={"csrf_token": token, "form_key": "k2", "text": "Saya juga"},
    )

    assert "Sudah" in page.text
    assert f"/console/feedback/{item.id}/reply" not in page.text
    assert response.status_code == 403
    with pytest.raises(ForbiddenError):
        service.reply(session, supervisor, item.id or 0, "Saya juga", "k3")
    assert len(session.exec(select(FeedbackReply)).all()) == 1


def test_an_asn_without_an_address_still_reads_the_answer_in_the_inbox(
    client: TestClient, session: Session, post: Post
) -> None:
    item = _asked(session, post)
    asn = session.get_one(Asn, item.asn_id)
    asn.messenger = "telegram"  # never linked: no chat id
    session.add(asn)
    session.commit()
    service.reply(session, make_user(session, _agency(session, post)), item.id or 0, "Ya.", "k")

    (message,) = _outbox(session)
    login_asn(client, asn)
    inbox = client.get(f"/inbox/{item.assignment_id}")

    assert (message.status, message.last_error) == (OutboxStatus.FAILED, "no address")
    assert "Ya." in inbox.text
    assert "Jawaban dari Humas" in inbox.text


def test_an_answer_to_someone_who_left_is_kept_but_not_sent(
    client: TestClient, session: Session, post: Post
) -> None:
    item = _asked(session, post)
    privacy.leave(session, session.get_one(Asn, item.asn_id))
    login_staff(client, make_user(session, _agency(session, post), Role.EDITOR))

    response = _answer(client, item, "Terima kasih atas pertanyaannya.")

    assert response.status_code == 200
    assert "telah keluar dari Gaung" in response.text  # the flash says it is not sent
    session.expire_all()
    (answer,) = session.exec(select(FeedbackReply)).all()
    assert answer.text == "Terima kasih atas pertanyaannya."
    assert _outbox(session) == []


def test_answers_are_in_the_asns_export_and_outlive_them_anonymously(
    session: Session, post: Post
) -> None:
    item = _asked(session, post, "Syaratnya apa?")
    asn = session.get_one(Asn, item.asn_id)
    service.reply(session, make_user(session, _agency(session, post)), item.id or 0, "KTP.", "k")

    exported = privacy.export(session, asn)
    (row,) = exported["feedback"]
    assert [r["text"] for r in row["replies"]] == ["KTP."]
    assert row["replies"][0]["created_at"]

    privacy.leave(session, asn)
    session.expire_all()
    kept = session.exec(select(Feedback)).one()
    assert (kept.text, kept.asn_id) == ("Syaratnya apa?", None)
    assert session.exec(select(FeedbackReply)).one().text == "KTP."
    assert service.thread_for_asn(session, asn.id, item.assignment_id) == []
    (message,) = _outbox(session)
    assert "KTP." not in message.text  # leaving drops the texts sent to them


def test_the_summary_counts_per_unit(client: TestClient, session: Session, post: Post) -> None:
    agency = _agency(session, post)
    north, south = (
        make_unit(session, agency, "Biro Utara"),
        make_unit(session, agency, "Biro Selatan"),
    )
    editor = make_user(session, agency, Role.EDITOR)

    def ask(unit: Unit, text: str) -> Feedback:
        asn = make_asn(session, unit)
        assignment = make_assignment(session, post, asn)
        assert assignment.id is not None
        return service.submit(session, asn, assignment.id, text)

    answered = ask(north, "Satu")
    handled = ask(north, "Dua")
    first_open = ask(south, "Tiga")
    ask(south, "Empat")
    service.reply(session, editor, answered.id or 0, "Jawab", "k")
    service.mark_handled(session, editor, handled.id or 0)

    summary = service.summary(session, post.campaign_id)
    by_unit = {row.unit_name: row.tally for row in summary.units}
    assert (summary.total.received, summary.total.handled) == (4, 2)
    assert (summary.total.replied, summary.total.open) == (1, 2)
    assert summary.total.oldest_open is not None
    assert abs((summary.total.oldest_open - first_open.created_at).total_seconds()) < 1
    north_t, south_t = by_unit["Biro Utara"], by_unit["Biro Selatan"]
    assert (north_t.received, north_t.handled, north_t.replied, north_t.open) == (2, 2, 1, 0)
    assert north_t.oldest_open is None
    assert (south_t.received, south_t.handled, south_t.replied, south_t.open) == (2, 0, 0, 2)
    assert [row.unit_name for row in summary.units] == ["Biro Selatan", "Biro Utara"]

    login_staff(client, editor)
    page = client.get(f"/console/campaigns/{post.campaign_id}/feedback").text
    campaign_page = client.get(f"/console/campaigns/{post.campaign_id}").text
    assert "Biro Utara" in page
    assert "Biro Selatan" in page
    assert "Terlama belum ditangani" in page
    assert "4 diterima, 1 dijawab" in campaign_page


def test_the_summary_of_a_campaign_without_feedback_is_empty(session: Session, post: Post) -> None:
    summary = service.summary(session, post.campaign_id)
    assert summary.units == ()
    assert (summary.total.received, summary.total.open, summary.total.oldest_open) == (0, 0, None)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=0, max_size=REPLY_MAX + 50))
def test_any_answer_is_stored_trimmed_or_refused_never_cut(
    session: Session, post: Post, text: str
) -> None:
    item = session.exec(select(Feedback)).first() or _asked(session, post)
    editor = session.exec(select(User).where(User.role == Role.EDITOR)).first()
    assert editor is not None
    assert item.id is not None
    cleaned = text.strip()
    has_control = any((ch < " " and ch not in "\t\n\r") or ch == "\x7f" for ch in text)
    before = len(session.exec(select(FeedbackReply)).all())
    if has_control or not cleaned or len(cleaned) > REPLY_MAX:
        with pytest.raises(GaungError) as refused:
            service.reply(session, editor, item.id, text, f"h{before}")
        session.rollback()
        assert refused.value.field == "reply"
        assert len(session.exec(select(FeedbackReply)).all()) == before
    else:
        stored = service.reply(session, editor, item.id, text, f"h{before}")
        assert stored.text == cleaned
        assert session.get_one(Assignment, item.assignment_id) is not None
