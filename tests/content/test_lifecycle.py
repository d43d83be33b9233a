"""The post and campaign lifecycle: edit, delete, withdraw, times in the past, dispatch now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.evidence import VerifyCursor
from assignments.models import Assignment, AssignmentStatus
from content import workflow
from content.models import Campaign, CampaignKind, CampaignUnit, Post, PostStatus
from content.schedule import dispatch_key
from gaung.db import utcnow
from gaung.errors import ForbiddenError, GaungError
from kernel.audit import AuditLog
from kernel.models import WorkItem, WorkStatus
from kernel.outbox import OutboxKind, OutboxMessage, OutboxStatus
from roster.models import Agency, AsnStatus, Role, Unit, User
from scheduler.dispatch import dispatch_post
from scheduler.withdrawal import message_key
from tests.factories import make_agency, make_asn, make_unit, make_user


class Team:
    def __init__(self, session: Session) -> None:
        self.agency: Agency = make_agency(session)
        self.unit: Unit = make_unit(session, self.agency)
        self.editor: User = make_user(session, self.agency, Role.EDITOR)
        self.approver: User = make_user(session, self.agency, Role.APPROVER)
        self.session = session

    def campaign(self, **changes: object) -> Campaign:
        start = utcnow() + timedelta(minutes=1)
        values: dict[str, object] = {
            "title": "Vaksinasi",
            "kind": CampaignKind.PROGRAM,
            "starts_at": start,
            "deadline": start + timedelta(days=2),
            "unit_ids": [self.unit.id],
            **changes,
        }
        return workflow.create_campaign(self.session, self.editor, **values)  # type: ignore[arg-type]

    def draft(self, campaign: Campaign | None = None) -> Post:
        return workflow.create_post(
            self.session,
            self.editor,
            campaign or self.campaign(),
            master_text="Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha.",
            link="https://www.kominfo.go.id/berita/umkm-digital",
            hashtags=["UMKM"],
            platforms=["x", "facebook"],
            scheduled_at=utcnow() + timedelta(hours=3),
        )

    def approved(self, campaign: Campaign | None = None) -> Post:
        post = self.draft(campaign)
        workflow.submit(self.session, self.editor, post)
        return workflow.approve(self.session, self.approver, post)


@pytest.fixture
def team(session: Session) -> Team:
    return Team(session)


# --- times in the past ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["starts_at", "deadline"])
def test_a_campaign_time_in_the_past_is_refused_naming_the_field(
    session: Session, team: Team, field: str
) -> None:
    past = utcnow() - timedelta(hours=1)
    changes = {"starts_at": past - timedelta(hours=1)} if field == "starts_at" else {}
    changes[field] = past
    with pytest.raises(GaungError, match="in the past") as caught:
        team.campaign(**changes)
    assert caught.value.field == field
    assert session.exec(select(Campaign)).all() == []


def test_a_send_time_in_the_past_is_refused(session: Session, team: Team) -> None:
    campaign = team.campaign()
    with pytest.raises(GaungError, match="in the past") as caught:
        workflow.create_post(
            session,
            team.editor,
            campaign,
            master_text="Teks",
            link=None,
            hashtags=[],
            platforms=["x"],
            scheduled_at=utcnow() - timedelta(hours=1),
        )
    assert caught.value.field == "scheduled_at"


def test_an_unchanged_past_send_time_may_stay_when_a_draft_is_edited(
    session: Session, team: Team
) -> None:
    post = team.draft()
    post.scheduled_at = utcnow() - timedelta(hours=2)  # the draft waited a long time
    session.add(post)
    session.commit()
    workflow.update_post(session, team.editor, post, master_text="Teks baru")
    with pytest.raises(GaungError) as caught:
        workflow.update_post(session, team.editor, post, scheduled_at=utcnow() - timedelta(hours=1))
    assert caught.value.field == "scheduled_at"


@pytest.mark.parametrize("text", ["Teks\x00", "Teks\ud800"])
def test_text_a_database_cannot_hold_is_refused(session: Session, team: Team, text: str) -> None:
    with pytest.raises(GaungError) as caught:
        team.campaign(title=text)
    assert caught.value.field == "title"


# --- editing and deleting a campaign ----------------------------------------------------


def test_edit_a_campaign_changes_only_what_is_given_and_is_audited(
    session: Session, team: Team
) -> None:
    campaign = team.campaign()
    other_unit = make_unit(session, team.agency)
    later = campaign.deadline + timedelta(days=1)
    workflow.update_campaign(
        session, team.editor, campaign, deadline=later, unit_ids=[other_unit.id or 0]
    )
    session.expire_all()
    stored = session.get_one(Campaign, campaign.id)
    assert stored.title == "Vaksinasi"
    assert stored.deadline.replace(tzinfo=later.tzinfo) == later
    units = session.exec(select(CampaignUnit.unit_id).where(CampaignUnit.campaign_id == stored.id))
    assert list(units) == [other_unit.id]
    actions = session.exec(select(AuditLog.action).where(AuditLog.entity == "campaign")).all()
    assert actions == ["campaign.created", "campaign.updated"]


def test_once_a_post_went_out_only_the_title_of_its_campaign_changes(
    session: Session, db: Engine, team: Team
) -> None:
    campaign = team.campaign()
    post = team.approved(campaign)
    dispatch_post(db, post.id or 0)
    with pytest.raises(GaungError) as caught:
        workflow.update_campaign(
            session, team.editor, campaign, deadline=campaign.deadline + timedelta(days=1)
        )
    assert caught.value.field == "deadline"
    workflow.update_campaign(session, team.editor, campaign, title="Vaksinasi Tahap 2")
    assert session.get_one(Campaign, campaign.id).title == "Vaksinasi Tahap 2"


def test_the_kind_is_fixed_once_a_post_is_under_review(session: Session, team: Team) -> None:
    campaign = team.campaign()
    workflow.submit(session, team.editor, team.draft(campaign))
    with pytest.raises(GaungError) as caught:
        workflow.update_campaign(session, team.editor, campaign, kind=CampaignKind.ANNOUNCEMENT)
    assert caught.value.field == "kind"


def test_a_campaign_of_drafts_is_deleted_with_its_drafts(session: Session, team: Team) -> None:
    campaign = team.campaign()
    team.draft(campaign)
    workflow.delete_campaign(session, team.editor, campaign)
    assert session.exec(select(Campaign)).all() == []
    assert session.exec(select(Post)).all() == []
    assert session.exec(select(CampaignUnit)).all() == []


def test_a_campaign_with_a_submitted_post_is_not_deleted(session: Session, team: Team) -> None:
    campaign = team.campaign()
    workflow.submit(session, team.editor, team.draft(campaign))
    with pytest.raises(GaungError, match="drafts"):
        workflow.delete_campaign(session, team.editor, campaign)
    assert session.exec(select(Campaign)).all() != []


# --- deleting a draft -------------------------------------------------------------------


def test_the_author_deletes_a_draft(session: Session, team: Team) -> None:
    post = team.draft()
    post_id = post.id
    workflow.delete_post(session, team.editor, post)
    assert session.get(Post, post_id) is None
    entry = session.exec(select(AuditLog).where(AuditLog.entity_id == post_id)).all()[-1]
    assert entry.action == "post.deleted"


def test_another_editor_may_not_delete_a_draft(session: Session, team: Team) -> None:
    post = team.draft()
    with pytest.raises(ForbiddenError):
        workflow.delete_post(session, make_user(session, team.agency, Role.EDITOR), post)


def test_a_submitted_post_is_not_deleted(session: Session, team: Team) -> None:
    post = workflow.submit(session, team.editor, team.draft())
    with pytest.raises(GaungError, match="Only a draft"):
        workflow.delete_post(session, team.editor, post)


# --- withdrawal -------------------------------------------------------------------------


def _dispatch_item(session: Session, post: Post) -> WorkItem:
    return session.exec(select(WorkItem).where(WorkItem.key == dispatch_key(post.id or 0))).one()


def test_withdrawing_a_scheduled_post_cancels_its_dispatch(
    session: Session, db: Engine, team: Team
) -> None:
    post = team.approved()
    workflow.withdraw(session, team.approver, post)
    session.expire_all()
    assert session.get_one(Post, post.id).status == PostStatus.WITHDRAWN
    assert _dispatch_item(session, post).status == WorkStatus.CANCELLED
    # A dispatcher that claimed it anyway finds nothing to send.
    with pytest.raises(GaungError):
        dispatch_post(db, post.id or 0)
    assert session.exec(select(Assignment)).all() == []
    assert session.exec(select(OutboxMessage)).all() == []


def test_withdrawing_a_dispatched_post_closes_open_assignments_and_tells_each_asn_once(
    session: Session, db: Engine, team: Team
) -> None:
    first, second = make_asn(session, team.unit), make_asn(session, team.unit)
    gone = make_asn(session, team.unit)
    post = team.approved()
    assert dispatch_post(db, post.id or 0) == 6  # three ASN, two platforms
    reported = session.exec(
        select(Assignment).where(Assignment.asn_id == first.id, Assignment.platform == "x")
    ).one()
    reported.status = AssignmentStatus.REPORTED
    gone.status = AsnStatus.LEFT
    session.add_all([reported, gone])
    session.commit()

    workflow.withdraw(session, team.approver, post)
    session.expire_all()

    statuses = {(a.asn_id, a.platform): a.status for a in session.exec(select(Assignment)).all()}
    assert statuses.pop((first.id, "x")) == AssignmentStatus.REPORTED  # what was done stays
    assert set(statuses.values()) == {AssignmentStatus.WITHDRAWN}
    notices = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.kind == OutboxKind.WITHDRAWAL)
        .order_by(col(OutboxMessage.asn_id))
    ).all()
    assert [n.asn_id for n in notices] == [first.id, second.id]  # not the one who left
    assert notices[0].key == message_key(post.id or 0, first.id or 0)
    assert "withdrawn" in notices[0].text.lower() or "ditarik" in notices[0].text.lower()
    assert all(n.priority == 1 for n in notices)


def test_assignment_notices_not_yet_sent_are_cancelled_by_the_withdrawal(
    session: Session, db: Engine, team: Team
) -> None:
    waiting, sent = make_asn(session, team.unit), make_asn(session, team.unit)
    post = team.approved()
    dispatch_post(db, post.id or 0)
    delivered = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.asn_id == sent.id, OutboxMessage.kind == OutboxKind.ASSIGNMENT
        )
    ).one()
    delivered.status = OutboxStatus.SENT
    session.add(delivered)
    session.commit()

    workflow.withdraw(session, team.approver, post)
    session.expire_all()

    notices = {
        m.asn_id: m.status
        for m in session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.ASSIGNMENT)
        )
    }
    assert notices == {waiting.id: OutboxStatus.CANCELLED, sent.id: OutboxStatus.SENT}


def test_only_an_approved_or_dispatched_post_is_withdrawn(session: Session, team: Team) -> None:
    post = workflow.submit(session, team.editor, team.draft())
    with pytest.raises(GaungError, match="withdrawn"):
        workflow.withdraw(session, team.approver, post)
    with pytest.raises(ForbiddenError):
        workflow.withdraw(session, team.editor, team.approved())


def test_dispatch_now_keeps_the_posts_urgency(session: Session, team: Team) -> None:
    post = team.approved()
    workflow.dispatch_now(session, team.approver, post)
    session.expire_all()
    assert session.get_one(Post, post.id).urgent is False
    assert _dispatch_item(session, post).run_at <= utcnow()


# --- correcting official links after approval ----------------------------------------------


def test_a_dispatched_posts_official_link_is_corrected_and_its_search_starts_afresh(
    session: Session, db: Engine, team: Team
) -> None:
    make_asn(session, team.unit)
    post = team.approved()
    dispatch_post(db, post.id or 0)
    session.add(VerifyCursor(post_id=post.id or 0, platform="x", campaign_id=post.campaign_id,
                             since_id="1790000000000000000", api_calls=3))  # fmt: skip
    session.commit()
    fixed = "https://x.com/kominfo/status/1800000000000000001"

    workflow.correct_official_urls(session, team.editor, post, {"x": fixed})

    session.expire_all()
    assert session.get_one(Post, post.id).official_url("x") == fixed
    cursor = session.get_one(VerifyCursor, (post.id, "x"))
    assert (cursor.since_id, cursor.api_calls) == (None, 3)
    actions = [
        a.action for a in session.exec(select(AuditLog).where(AuditLog.entity_id == post.id))
    ]
    assert "post.official_urls_corrected" in actions


def test_a_correction_names_the_field_of_a_link_to_the_wrong_platform(
    session: Session, team: Team
) -> None:
    post = team.approved()
    with pytest.raises(GaungError) as raised:
        workflow.correct_official_urls(
            session, team.approver, post, {"x": "https://www.facebook.com/kominfo/posts/1"}
        )
    assert raised.value.field == "official_url_x"


def test_only_an_approved_or_dispatched_post_has_its_links_corrected(
    session: Session, team: Team
) -> None:
    draft = team.draft()
    with pytest.raises(GaungError):
        workflow.correct_official_urls(
            session, team.editor, draft, {"x": "https://x.com/kominfo/status/1"}
        )
