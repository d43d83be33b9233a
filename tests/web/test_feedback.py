"""Feedback from the public: passed on by the ASN from the inbox, read and handled by Humas."""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from assignments import feedback as service
from assignments.feedback import TEXT_MAX, Feedback
from assignments.models import Assignment
from content.models import Campaign, Post, PostStatus
from gaung.errors import GaungError, NotFoundError
from kernel.audit import AuditLog
from roster.models import Agency, Asn, Role
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


@pytest.fixture
def post(session: Session) -> Post:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    return make_post(session, campaign, make_user(session, agency), status=PostStatus.DISPATCHED)


def _agency(session: Session, post: Post) -> Agency:
    return session.get_one(Agency, session.get_one(Campaign, post.campaign_id).agency_id)


def _asn(session: Session, post: Post) -> Asn:
    return make_asn(session, make_unit(session, _agency(session, post)))


def _send(
    client: TestClient, assignment: Assignment, text: str, link: str = "", **kwargs: Any
) -> httpx.Response:
    token = csrf_from(client, f"/inbox/{assignment.id}")
    response: httpx.Response = client.post(
        f"/inbox/{assignment.id}/feedback",
        data={"csrf_token": token, "text": text, "link": link},
        **kwargs,
    )
    return response


def test_the_assignment_page_offers_to_pass_feedback_on(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me)
    login_asn(client, me)

    page = client.get(f"/inbox/{assignment.id}")

    assert f'action="/inbox/{assignment.id}/feedback"' in page.text


def test_an_asn_passes_a_question_on_to_humas(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me)
    login_asn(client, me)

    response = _send(
        client,
        assignment,
        "  Apakah program ini juga untuk UMKM di desa?  ",
        "https://x.com/warga/status/1790000000000000001",
        follow_redirects=False,
    )

    assert response.status_code == 303
    (stored,) = session.exec(select(Feedback)).all()
    assert stored.text == "Apakah program ini juga untuk UMKM di desa?"
    assert stored.link == "https://x.com/warga/status/1790000000000000001"
    assert (stored.assignment_id, stored.campaign_id, stored.asn_id) == (
        assignment.id,
        post.campaign_id,
        me.id,
    )
    assert stored.handled_at is None
    assert "Terima kasih" in client.get(f"/inbox/{assignment.id}").text


@pytest.mark.parametrize(
    ("text", "link", "message"),
    [
        ("", "", "Write the question or feedback you received."),
        (
            "x" * (TEXT_MAX + 1),
            "",
            f"The feedback is {TEXT_MAX + 1} characters; the limit is {TEXT_MAX}.",
        ),
        (
            "Pertanyaan",
            "javascript:alert(1)",
            "The link must be a web address starting with https:// or http://.",
        ),
        (
            "Pertanyaan",
            "https://x.com/" + "a" * 500,
            "The link is 514 characters; the limit is 500.",
        ),
    ],
)
def test_bad_feedback_is_refused_with_the_reason_and_the_input_kept(
    client: TestClient, session: Session, post: Post, text: str, link: str, message: str
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me)
    login_asn(client, me)

    response = _send(client, assignment, text, link, headers=EN)

    assert response.status_code == 400
    body = html.unescape(response.text)
    assert message in body
    assert 'id="feedback-error"' in body
    assert session.exec(select(Feedback)).all() == []


def test_feedback_on_someone_elses_assignment_is_404(
    client: TestClient, session: Session, post: Post
) -> None:
    me, other = _asn(session, post), _asn(session, post)
    mine = make_assignment(session, post, me)
    theirs = make_assignment(session, post, other)
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{mine.id}")

    response = client.post(
        f"/inbox/{theirs.id}/feedback", data={"csrf_token": token, "text": "Halo"}
    )

    assert response.status_code == 404
    assert session.exec(select(Feedback)).all() == []


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=0, max_size=TEXT_MAX + 50))
def test_any_text_is_stored_trimmed_or_refused_never_cut(
    session: Session, post: Post, text: str
) -> None:
    me = session.exec(select(Asn)).first() or _asn(session, post)
    assignment = session.exec(select(Assignment)).first() or make_assignment(session, post, me)
    assert assignment.id is not None
    cleaned = text.strip()
    has_control = any((ch < " " and ch not in "\t\n\r") or ch == "\x7f" for ch in text)
    if has_control or not cleaned or len(cleaned) > TEXT_MAX:
        with pytest.raises(GaungError) as refused:
            service.submit(session, me, assignment.id, text)
        session.rollback()
        assert refused.value.field == "text"
    else:
        stored = service.submit(session, me, assignment.id, text)
        assert stored.text == cleaned
        session.delete(stored)
        session.commit()


def test_humas_sees_the_campaigns_feedback_and_marks_it_handled(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me)
    assert assignment.id is not None
    item = service.submit(session, me, assignment.id, "Kapan pendaftarannya dibuka?")
    editor = make_user(session, _agency(session, post), Role.EDITOR)
    login_staff(client, editor)

    campaign_page = client.get(f"/console/campaigns/{post.campaign_id}")
    page = client.get(f"/console/campaigns/{post.campaign_id}/feedback")
    token = csrf_from(client, f"/console/campaigns/{post.campaign_id}/feedback")
    response = client.post(
        f"/console/feedback/{item.id}/handled", data={"csrf_token": token}, follow_redirects=False
    )

    assert f"/console/campaigns/{post.campaign_id}/feedback" in campaign_page.text
    assert "(1 belum ditangani)" in campaign_page.text
    assert "Kapan pendaftarannya dibuka?" in page.text
    assert me.name in page.text
    assert response.status_code == 303
    session.expire_all()
    handled = session.get_one(Feedback, item.id)
    assert handled.handled_at is not None
    assert handled.handled_by == editor.id
    (entry,) = session.exec(select(AuditLog).where(AuditLog.action == "feedback.handled")).all()
    assert (entry.entity, entry.entity_id, entry.actor_id) == ("feedback", item.id, editor.id)


def test_a_supervisor_reads_feedback_but_cannot_mark_it(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me)
    assert assignment.id is not None
    item = service.submit(session, me, assignment.id, "Mohon info jadwalnya")
    login_staff(client, make_user(session, _agency(session, post), Role.SUPERVISOR))

    page = client.get(f"/console/campaigns/{post.campaign_id}/feedback")
    token = csrf_from(client, f"/console/campaigns/{post.campaign_id}/feedback")
    response = client.post(f"/console/feedback/{item.id}/handled", data={"csrf_token": token})

    assert page.status_code == 200
    assert "Mohon info jadwalnya" in page.text
    assert f"/console/feedback/{item.id}/handled" not in page.text
    assert response.status_code == 403
    session.expire_all()
    assert session.get_one(Feedback, item.id).handled_at is None


def test_another_agencys_feedback_is_404(client: TestClient, session: Session, post: Post) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me)
    assert assignment.id is not None
    item = service.submit(session, me, assignment.id, "Rahasia instansi lain")
    stranger = make_user(session, make_agency(session), Role.EDITOR)
    login_staff(client, stranger)
    token = csrf_from(client, "/console")

    assert client.get(f"/console/campaigns/{post.campaign_id}/feedback").status_code == 404
    response = client.post(f"/console/feedback/{item.id}/handled", data={"csrf_token": token})
    assert response.status_code == 404
    with pytest.raises(NotFoundError):
        service.mark_handled(session, stranger, item.id or 0)


def test_feedback_is_in_the_asns_export_and_outlives_them_anonymously(
    session: Session, post: Post
) -> None:
    from roster import privacy

    me = _asn(session, post)
    assignment = make_assignment(session, post, me)
    assert assignment.id is not None
    service.submit(session, me, assignment.id, "Syaratnya apa?", "https://x.com/me/status/9")

    exported = privacy.export(session, me)
    assert [row["text"] for row in exported["feedback"]] == ["Syaratnya apa?"]

    privacy.leave(session, me)
    kept = session.exec(select(Feedback)).one()
    assert (kept.text, kept.asn_id, kept.link) == ("Syaratnya apa?", None, None)
