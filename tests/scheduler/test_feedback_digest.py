"""The Humas feedback digest: one mail per staff member per period, nothing told twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments import feedback as service
from assignments.feedback import Feedback
from channels import messaging
from channels.messaging import OutgoingMessage, PermanentSendError, SendResult
from content.models import Campaign, Post, PostStatus
from kernel import jobs, recurring
from kernel.models import WorkItem
from roster.models import Agency, Role, User
from scheduler import feedback_digest
from scheduler.feedback_digest import MAIL_JOB, collect, feedback_digest_mail_job, mail_key
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)


class Recorder:
    slug = "email"
    idempotent = False

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.refuse = False

    def send(self, message: OutgoingMessage) -> SendResult:
        if self.refuse:
            raise PermanentSendError("mailbox unknown")
        self.sent.append(message)
        return SendResult(provider_id="x")


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setitem(messaging.MESSENGERS, "email", recorder)
    return recorder


@pytest.fixture
def post(session: Session) -> Post:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    campaign.title = "Vaksinasi Anak"
    session.add(campaign)
    session.commit()
    return make_post(session, campaign, make_user(session, agency), status=PostStatus.DISPATCHED)


def _agency(session: Session, post: Post) -> Agency:
    return session.get_one(Agency, session.get_one(Campaign, post.campaign_id).agency_id)


def _ask(session: Session, post: Post, text: str, at: datetime | None = None) -> Feedback:
    asn = make_asn(session, make_unit(session, _agency(session, post)))
    assignment = make_assignment(session, post, asn)
    assert assignment.id is not None
    item = service.submit(session, asn, assignment.id, text)
    if at is not None:
        item.created_at = at
        session.add(item)
        session.commit()
    return item


def _mails(session: Session) -> list[WorkItem]:
    session.expire_all()
    query = select(WorkItem).where(WorkItem.kind == MAIL_JOB).order_by(col(WorkItem.id))
    return list(session.exec(query))


def _run_mails(db: Engine, session: Session) -> None:
    for item in _mails(session):
        feedback_digest_mail_job(db, json.loads(item.payload))


def _period() -> datetime:
    return recurring.Recurring(feedback_digest.JOB, feedback_digest.EVERY).period_start(
        datetime.now(UTC) + feedback_digest.EVERY
    )


def test_each_humas_staff_member_gets_one_mail_per_period(
    db: Engine, session: Session, post: Post, mailbox: Recorder
) -> None:
    agency = _agency(session, post)
    author = session.exec(select(User).where(User.agency_id == agency.id)).one()
    approver, admin = (
        make_user(session, agency, Role.APPROVER),
        make_user(session, agency, Role.ADMIN),
    )
    make_user(session, agency, Role.SUPERVISOR)  # reads, does not handle: no mail
    gone = make_user(session, agency, Role.EDITOR)
    gone.active = False
    session.add(gone)
    session.commit()
    make_user(session, make_agency(session), Role.EDITOR)  # another agency: no mail
    _ask(session, post, "Di mana lokasi vaksinasi?")
    _ask(session, post, "Apakah gratis?")
    period = _period()

    assert collect(db, period) == 3
    assert collect(db, period) == 0  # the same period again (a retried run): nothing new
    _run_mails(db, session)
    _run_mails(db, session)  # a retried mail item sends with the same idempotency key

    items = _mails(session)
    assert sorted(json.loads(i.payload)["user_id"] for i in items) == sorted(
        [author.id or 0, approver.id or 0, admin.id or 0]
    )
    assert {i.key for i in items} == {
        mail_key(period, u.id or 0) for u in (author, approver, admin)
    }
    to = sorted(m.to for m in mailbox.sent[:3])
    assert to == sorted(u.email for u in (author, approver, admin))
    keys = {m.idempotency_key for m in mailbox.sent}
    assert len(keys) == 3  # the repeats carry the same keys
    message = next(m for m in mailbox.sent if m.to == author.email)
    assert message.subject == "Tanggapan masyarakat: 2 baru"
    assert "Vaksinasi Anak: 2 baru, 2 belum ditangani" in message.text
    assert "“Di mana lokasi vaksinasi?”" in message.text
    assert "“Apakah gratis?”" in message.text
    assert f"http://testserver/console/campaigns/{post.campaign_id}/feedback" in message.text
    assert "WIB" in message.text
    session.expire_all()
    assert all(f.notified_at is not None for f in session.exec(select(Feedback)))


def test_feedback_after_the_period_began_waits_for_the_next_digest(
    db: Engine, session: Session, post: Post, mailbox: Recorder
) -> None:
    period = _period()
    _ask(session, post, "Lama", at=period - timedelta(minutes=5))
    late = _ask(session, post, "Baru", at=period + timedelta(minutes=5))

    assert collect(db, period) == 1
    session.expire_all()
    assert session.get_one(Feedback, late.id).notified_at is None
    assert collect(db, period + feedback_digest.EVERY) == 1
    _run_mails(db, session)
    first, second = mailbox.sent
    assert "“Lama”" in first.text
    assert "“Baru”" not in first.text
    assert "“Baru”" in second.text


def test_a_missed_period_is_caught_up_by_the_next_digest(
    db: Engine, session: Session, post: Post, mailbox: Recorder
) -> None:
    period = _period()
    _ask(session, post, "Terlewat", at=period - 3 * feedback_digest.EVERY)

    assert collect(db, period) == 1  # nobody ran the earlier periods
    _run_mails(db, session)
    assert "“Terlewat”" in mailbox.sent[0].text


def test_no_new_feedback_sends_nothing(
    db: Engine, session: Session, post: Post, mailbox: Recorder
) -> None:
    assert collect(db, _period()) == 0
    assert _mails(session) == []


def test_many_campaigns_are_listed_up_to_a_limit_and_the_rest_counted(
    db: Engine, session: Session, post: Post, mailbox: Recorder
) -> None:
    agency = _agency(session, post)
    author = session.exec(select(User).where(User.agency_id == agency.id)).one()
    for n in range(feedback_digest.MAX_LISTED + 2):
        campaign = make_campaign(session, agency)
        other = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
        for k in range(feedback_digest.EXCERPTS + 1):
            _ask(session, other, f"Pertanyaan {n}.{k}")

    assert collect(db, _period()) == 1
    (item,) = _mails(session)
    assert len(item.payload) < 4000
    _run_mails(db, session)
    (message,) = mailbox.sent
    total = (feedback_digest.MAX_LISTED + 2) * (feedback_digest.EXCERPTS + 1)
    assert message.subject == f"Tanggapan masyarakat: {total} baru"
    assert message.text.count("/console/campaigns/") == feedback_digest.MAX_LISTED
    assert "Dan 8 lagi di 2 kampanye lain." in message.text


def test_a_staff_member_who_left_or_a_refused_address_gets_nothing_and_nothing_breaks(
    db: Engine, session: Session, post: Post, mailbox: Recorder
) -> None:
    agency = _agency(session, post)
    author = session.exec(select(User).where(User.agency_id == agency.id)).one()
    other = make_user(session, agency, Role.APPROVER)
    _ask(session, post, "Halo")
    collect(db, _period())
    author.active = False
    session.add(author)
    session.commit()
    mailbox.refuse = True

    _run_mails(db, session)  # neither raises

    assert mailbox.sent == []
    assert other.id is not None


def test_the_digest_is_a_wired_recurring_job(db: Engine) -> None:
    assert recurring.RECURRING[feedback_digest.JOB].every == feedback_digest.EVERY
    assert jobs.JOBS[MAIL_JOB] is feedback_digest_mail_job
