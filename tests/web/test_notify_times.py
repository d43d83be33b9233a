"""Time to notify in the console and the JSON API: the approver sees per messenger how long
until the last ASN is notified and what WhatsApp costs before approving; after dispatch the
post page and the API show the measured times, unknown outcomes as such."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from content.models import CampaignKind, Post, PostStatus
from gaung.settings import get_settings
from kernel.outbox import OutboxMessage, OutboxStatus
from roster.models import Agency, Asn, Role, Unit, User
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import csrf_from, login_staff

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


def _person(session: Session, unit: Unit, messenger: str) -> Asn:
    person = make_asn(session, unit, platforms=["x"])
    person.messenger = messenger
    if messenger == "whatsapp":
        person.phone = f"+62812{person.id:07d}"
    if messenger == "telegram":
        person.telegram_chat_id = f"{person.id}"
    session.add(person)
    session.commit()
    return person


def _waiting_post(
    session: Session, *, kind: str = CampaignKind.PROGRAM
) -> tuple[Post, User, Agency]:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency, role=Role.EDITOR)
    campaign = make_campaign(session, agency, editor, kind=kind, units=[unit])
    post = make_post(session, campaign, editor, status=PostStatus.SUBMITTED)
    post.platforms = "x"
    post.scheduled_at = None
    session.add(post)
    session.commit()
    for messenger, count in (("email", 4), ("whatsapp", 2), ("telegram", 1)):
        for _ in range(count):
            _person(session, unit, messenger)
    return post, make_user(session, agency, role=Role.APPROVER), agency


@pytest.fixture
def slow_email(monkeypatch: pytest.MonkeyPatch) -> None:
    # One e-mail per 100 s makes the durations long enough to read in words.
    monkeypatch.setitem(get_settings().rate_limits, "email", 0.01)
    monkeypatch.setattr(get_settings().whatsapp, "prices", {"utility": 356.65})


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.usefixtures("slow_email")
def test_the_approver_sees_per_messenger_time_and_cost_before_approving(
    client: TestClient, session: Session
) -> None:
    post, approver, _agency = _waiting_post(session)
    login_staff(client, approver)

    queue = _text(client.get("/console/approvals").text)
    page = _text(client.get(f"/console/posts/{post.id}").text)

    for text in (queue, page):
        assert "Waktu pemberitahuan (perkiraan)" in text
        # 4 e-mails at 0.01/s: 400 s; WhatsApp 2 x Rp356,65.
        assert "6 menit, 40 detik" in text
        assert "Rp713" in text
        assert "Surel" in text
        assert "Tidak ada biaya per pesan" in text


def test_the_api_gives_the_estimate_and_refuses_it_once_sent(
    client: TestClient, session: Session, db: Engine
) -> None:
    post, approver, _agency = _waiting_post(session, kind=CampaignKind.HOAX_CLARIFICATION)
    login_staff(client, approver)

    found = client.get(f"/api/posts/{post.id}/estimate")

    assert found.status_code == 200
    body = found.json()
    assert body["urgent"] is True
    assert body["recipients"] == 7
    assert body["currency"] == "IDR"
    by = {m["messenger"]: m for m in body["messengers"]}
    assert by["email"]["recipients"] == 4
    assert by["email"]["rate_per_second"] == get_settings().rate_limits["email"]
    assert by["whatsapp"]["cost"] == pytest.approx(2 * by["whatsapp"]["price_per_message"])
    assert by["telegram"]["cost"] is None

    token = csrf_from(client, f"/console/posts/{post.id}")
    approved = client.post(
        f"/console/posts/{post.id}/approve", data={"csrf_token": token}, follow_redirects=False
    )
    assert approved.status_code == 303
    assert dispatch_post(db, post.id or 0) == 7
    assert client.get(f"/api/posts/{post.id}/estimate").status_code == 409


def test_measured_times_show_on_the_post_page_and_in_the_api_unknown_as_such(
    client: TestClient, session: Session, db: Engine
) -> None:
    post, approver, _agency = _waiting_post(session)
    login_staff(client, approver)
    token = csrf_from(client, f"/console/posts/{post.id}")
    client.post(f"/console/posts/{post.id}/approve", data={"csrf_token": token})
    assert dispatch_post(db, post.id or 0) == 7
    session.refresh(post)
    assert post.reviewed_at is not None
    approved = post.reviewed_at
    with db.begin() as conn:
        ids = list(conn.scalars(select(_outbox.c.id).order_by(_outbox.c.id)))
        assert len(ids) == 7
        # What the providers answered: 5 accepted over 10 minutes, one unknown, one failed.
        for n, message in enumerate(ids[:5]):
            conn.execute(
                update(_outbox)
                .where(_outbox.c.id == message)
                .values(status=OutboxStatus.SENT, sent_at=approved + timedelta(minutes=2 * (n + 1)))
            )
        conn.execute(
            update(_outbox).where(_outbox.c.id == ids[5]).values(status=OutboxStatus.UNKNOWN)
        )
        conn.execute(
            update(_outbox).where(_outbox.c.id == ids[6]).values(status=OutboxStatus.FAILED)
        )

    page = _text(client.get(f"/console/posts/{post.id}").text)
    times = client.get(f"/api/posts/{post.id}/notify-times").json()

    assert "Waktu pemberitahuan" in page
    assert "Hasil tidak diketahui" in page
    assert "8 menit" in page  # 50%: the 4th of 7, 8 minutes after approval
    assert "10 menit" in page  # the last one accepted
    assert "Belum" in page  # 90% (7 of 7) never came
    assert "perkiraan" not in page
    assert (times["messages"], times["accepted"], times["unknown"], times["failed"]) == (
        7,
        5,
        1,
        1,
    )
    assert times["seconds_to_50"] == 480.0
    assert times["seconds_to_90"] is None
    assert times["seconds_to_last"] == 600.0
    assert times["done"] is True


def test_the_campaign_dashboard_shows_each_posts_time_to_notify(
    client: TestClient, session: Session, db: Engine
) -> None:
    post, approver, agency = _waiting_post(session)
    login_staff(client, approver)
    token = csrf_from(client, f"/console/posts/{post.id}")
    client.post(f"/console/posts/{post.id}/approve", data={"csrf_token": token})
    assert dispatch_post(db, post.id or 0) == 7
    session.refresh(post)
    assert post.reviewed_at is not None
    with db.begin() as conn:
        ids = list(conn.scalars(select(_outbox.c.id).order_by(_outbox.c.id)))
        for n, message in enumerate(ids[:6]):
            sent = post.reviewed_at + timedelta(hours=n + 1)
            conn.execute(
                update(_outbox)
                .where(_outbox.c.id == message)
                .values(status=OutboxStatus.SENT, sent_at=sent)
            )
        conn.execute(
            update(_outbox).where(_outbox.c.id == ids[6]).values(status=OutboxStatus.UNKNOWN)
        )
    client.cookies.clear()
    login_staff(client, make_user(session, agency, role=Role.SUPERVISOR))

    campaign = _text(client.get(f"/dashboard/campaigns/{post.campaign_id}").text)
    detail = _text(client.get(f"/dashboard/campaigns/{post.campaign_id}/posts/{post.id}").text)

    assert "Waktu pemberitahuan" in campaign
    # 50%: the 4th of 7 after 4 hours; 90%: the 7th never came; the last after 6 hours.
    assert "4 jam Belum 6 jam" in campaign
    assert "Hasil tidak diketahui" in campaign
    assert "Hasil tidak diketahui" in detail
    assert "6 jam" in detail


def test_another_agencys_post_is_not_found(client: TestClient, session: Session) -> None:
    post, _approver, _agency = _waiting_post(session)
    stranger = make_user(session, make_agency(session), role=Role.APPROVER)
    login_staff(client, stranger)
    assert client.get(f"/api/posts/{post.id}/estimate").status_code == 404
    assert client.get(f"/api/posts/{post.id}/notify-times").status_code == 404


def test_a_post_not_sent_has_no_measured_times_yet(client: TestClient, session: Session) -> None:
    post, approver, _agency = _waiting_post(session)
    login_staff(client, approver)
    times = client.get(f"/api/posts/{post.id}/notify-times").json()
    assert (times["messages"], times["seconds_to_last"], times["started_at"]) == (0, None, None)
