"""The approval workflow on the real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict, Unpack

import pytest
from sqlmodel import Session, col, select

from content import workflow
from content.models import Campaign, CampaignKind, CampaignUnit, Post, PostStatus
from content.rendering import RenditionError
from gaung.db import utcnow
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from kernel.audit import AuditLog
from kernel.models import WorkItem
from roster.models import Agency, Role, User
from tests.factories import make_agency, make_campaign, make_post, make_unit, make_user


@dataclass
class Team:
    agency: Agency
    editor: User
    approver: User
    admin: User
    supervisor: User
    campaign: Campaign


def _team(session: Session, kind: str = CampaignKind.PROGRAM) -> Team:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    return Team(
        agency=agency,
        editor=editor,
        approver=make_user(session, agency, Role.APPROVER),
        admin=make_user(session, agency, Role.ADMIN),
        supervisor=make_user(session, agency, Role.SUPERVISOR),
        campaign=make_campaign(session, agency, editor, kind=kind),
    )


@pytest.fixture
def team(session: Session) -> Team:
    return _team(session)


@pytest.fixture
def other(session: Session) -> Team:
    return _team(session)


class PostFields(TypedDict, total=False):
    """The keyword arguments of ``workflow.create_post`` a test may override."""

    master_text: str
    link: str | None
    hashtags: Sequence[str]
    platforms: Sequence[str]
    scheduled_at: datetime | None
    urgent: bool
    image_path: str | None
    official_urls: Mapping[str, str | None] | None


def _draft(
    session: Session, team: Team, author: User | None = None, **fields: Unpack[PostFields]
) -> Post:
    values: PostFields = {
        "master_text": "Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha.",
        "link": "https://www.kominfo.go.id/berita/umkm-digital",
        "hashtags": ["#UMKMGoDigital", "Indonesia"],
        "platforms": ["x", "facebook"],
        "scheduled_at": utcnow() + timedelta(hours=3),
    }
    values.update(fields)
    return workflow.create_post(session, author or team.editor, team.campaign, **values)


def _submitted(session: Session, team: Team, **fields: Unpack[PostFields]) -> Post:
    return workflow.submit(session, team.editor, _draft(session, team, **fields))


def _actions(session: Session, entity: str, entity_id: int | None) -> list[str]:
    rows = session.exec(
        select(AuditLog)
        .where(AuditLog.entity == entity, AuditLog.entity_id == entity_id)
        .order_by(col(AuditLog.id))
    ).all()
    return [row.action for row in rows]


def _work_items(session: Session) -> list[WorkItem]:
    return list(session.exec(select(WorkItem)).all())


# --- campaigns --------------------------------------------------------------------------


def test_create_campaign_targets_own_units_and_is_audited(session: Session, team: Team) -> None:
    unit = make_unit(session, team.agency)
    assert unit.id is not None
    start = utcnow()
    campaign = workflow.create_campaign(
        session,
        team.editor,
        title="  Vaksinasi Nasional ",
        kind=CampaignKind.PROGRAM,
        starts_at=start,
        deadline=start + timedelta(days=3),
        unit_ids=[unit.id, unit.id],
    )
    assert campaign.title == "Vaksinasi Nasional"
    assert campaign.agency_id == team.agency.id
    units = session.exec(select(CampaignUnit).where(CampaignUnit.campaign_id == campaign.id)).all()
    assert [u.unit_id for u in units] == [unit.id]
    entry = session.exec(select(AuditLog).where(AuditLog.entity == "campaign")).one()
    assert entry.action == "campaign.created"
    assert entry.actor_id == team.editor.id
    assert entry.agency_id == team.agency.id


class CampaignChanges(TypedDict, total=False):
    """What a test changes in an otherwise valid campaign."""

    title: str
    kind: str
    deadline_hours: int


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"kind": "propaganda"}, "kind"),
        ({"deadline_hours": 0}, "deadline"),
        ({"deadline_hours": -5}, "deadline"),
    ],
)
def test_create_campaign_refuses_bad_input(
    session: Session, team: Team, changes: CampaignChanges, field: str
) -> None:
    start = utcnow()
    with pytest.raises(GaungError) as caught:
        workflow.create_campaign(
            session,
            team.editor,
            title=changes.get("title", "Kampanye"),
            kind=changes.get("kind", CampaignKind.PROGRAM),
            starts_at=start,
            deadline=start + timedelta(hours=changes.get("deadline_hours", 24)),
        )
    assert caught.value.field == field


def test_create_campaign_refuses_another_agencys_unit(
    session: Session, team: Team, other: Team
) -> None:
    foreign = make_unit(session, other.agency)
    assert foreign.id is not None
    start = utcnow()
    with pytest.raises(GaungError) as caught:
        workflow.create_campaign(
            session,
            team.editor,
            title="Kampanye",
            kind=CampaignKind.PROGRAM,
            starts_at=start,
            deadline=start + timedelta(days=1),
            unit_ids=[foreign.id],
        )
    assert caught.value.field == "unit_ids"
    assert session.exec(select(CampaignUnit)).all() == []


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.APPROVER])
def test_only_editors_and_admins_create_campaigns(session: Session, team: Team, role: str) -> None:
    actor = make_user(session, team.agency, role)
    with pytest.raises(ForbiddenError):
        workflow.create_campaign(
            session,
            actor,
            title="Kampanye",
            kind=CampaignKind.PROGRAM,
            starts_at=utcnow(),
            deadline=utcnow() + timedelta(days=1),
        )


# --- drafting ---------------------------------------------------------------------------


def test_create_post_normalises_fields_and_is_audited(session: Session, team: Team) -> None:
    post = _draft(
        session,
        team,
        hashtags=["#UMKM", "UMKM", " Digital "],
        platforms=["x", "instagram", "x"],
        official_urls={"x": "https://x.com/kominfo/status/1", "facebook": ""},
    )
    session.expire_all()
    stored = session.get(Post, post.id)
    assert stored is not None
    assert stored.status == PostStatus.DRAFT
    assert stored.author_id == team.editor.id
    assert stored.hashtags == "UMKM Digital"
    assert stored.platforms == "x,instagram"
    assert stored.official_url_x == "https://x.com/kominfo/status/1"
    assert stored.official_url_facebook is None
    assert _actions(session, "post", post.id) == ["post.created"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"master_text": "  "}, "master_text"),
        ({"master_text": "a" * 5001}, "master_text"),
        ({"link": "kominfo.go.id"}, "link"),
        ({"hashtags": ["bukan tagar"]}, "hashtags"),
        ({"platforms": ["tiktok"]}, "platforms"),
        ({"platforms": []}, "platforms"),
        ({"official_urls": {"x": "ftp://x.com/1"}}, "official_url_x"),
    ],
)
def test_create_post_refuses_bad_input(
    session: Session, team: Team, changes: PostFields, field: str
) -> None:
    with pytest.raises(GaungError) as caught:
        _draft(session, team, **changes)
    assert caught.value.field == field
    assert session.exec(select(Post)).all() == []


def test_cannot_post_into_another_agencys_campaign(
    session: Session, team: Team, other: Team
) -> None:
    with pytest.raises(NotFoundError):
        workflow.create_post(
            session,
            team.editor,
            other.campaign,
            master_text="Teks",
            link=None,
            hashtags=[],
            platforms=["x"],
            scheduled_at=None,
        )


def test_update_post_changes_only_given_fields(session: Session, team: Team) -> None:
    post = _draft(session, team, official_urls={"x": "https://x.com/kominfo/status/1"})
    workflow.update_post(
        session,
        team.editor,
        post,
        master_text="Teks baru",
        official_urls={"facebook": "https://www.facebook.com/kominfo/posts/2"},
    )
    session.expire_all()
    stored = session.get(Post, post.id)
    assert stored is not None
    assert stored.master_text == "Teks baru"
    assert stored.link == "https://www.kominfo.go.id/berita/umkm-digital"
    assert stored.hashtags == "UMKMGoDigital Indonesia"
    assert stored.official_url_x == "https://x.com/kominfo/status/1"
    assert stored.official_url_facebook == "https://www.facebook.com/kominfo/posts/2"
    assert _actions(session, "post", post.id) == ["post.created", "post.updated"]


def test_only_the_author_or_an_admin_edits_a_post(session: Session, team: Team) -> None:
    post = _draft(session, team)
    colleague = make_user(session, team.agency, Role.EDITOR)
    with pytest.raises(ForbiddenError):
        workflow.update_post(session, colleague, post, master_text="Diubah")
    workflow.update_post(session, team.admin, post, master_text="Diubah admin")
    assert post.master_text == "Diubah admin"


def test_a_bad_edit_changes_nothing(session: Session, team: Team) -> None:
    post = _draft(session, team)
    with pytest.raises(GaungError):
        workflow.update_post(session, team.editor, post, master_text="Baru", link="bukan-link")
    session.expire_all()
    stored = session.get(Post, post.id)
    assert stored is not None
    assert stored.master_text.startswith("Program Digitalisasi")


# --- submit, approve, reject ------------------------------------------------------------


def test_full_flow_writes_an_audit_row_per_transition_and_queues_one_dispatch(
    session: Session, team: Team
) -> None:
    post = _draft(session, team)
    workflow.submit(session, team.editor, post)
    assert post.status == PostStatus.SUBMITTED
    workflow.approve(session, team.approver, post)

    session.expire_all()
    stored = session.get(Post, post.id)
    assert stored is not None
    assert stored.status == PostStatus.APPROVED
    assert stored.approver_id == team.approver.id
    assert stored.reviewed_at is not None
    assert _actions(session, "post", post.id) == ["post.created", "post.submitted", "post.approved"]
    entries = session.exec(select(AuditLog).where(AuditLog.entity == "post")).all()
    assert {e.agency_id for e in entries} == {team.agency.id}

    [item] = _work_items(session)
    assert item.kind == "dispatch"
    assert item.key == f"dispatch:post:{post.id}"
    assert json.loads(item.payload) == {"post_id": post.id}
    assert item.run_at == stored.scheduled_at


def test_approving_twice_is_refused_and_queues_one_dispatch(session: Session, team: Team) -> None:
    post = _submitted(session, team)
    workflow.approve(session, team.approver, post)
    second = make_user(session, team.agency, Role.APPROVER)
    with pytest.raises(GaungError, match="Only a submitted post can be approved"):
        workflow.approve(session, second, post)
    assert len(_work_items(session)) == 1
    assert _actions(session, "post", post.id).count("post.approved") == 1


def test_an_urgent_post_is_dispatched_at_once(session: Session, team: Team) -> None:
    before = utcnow()
    post = _submitted(session, team, urgent=True, scheduled_at=utcnow() + timedelta(days=1))
    workflow.approve(session, team.approver, post)
    [item] = _work_items(session)
    assert before <= item.run_at <= utcnow()


def test_an_unscheduled_post_is_dispatched_at_once(session: Session, team: Team) -> None:
    before = utcnow()
    post = _submitted(session, team, scheduled_at=None)
    workflow.approve(session, team.approver, post)
    [item] = _work_items(session)
    assert before <= item.run_at <= utcnow()


def test_the_author_cannot_approve_even_as_admin(session: Session, team: Team) -> None:
    post = _draft(session, team, author=team.admin)
    workflow.submit(session, team.admin, post)
    with pytest.raises(ForbiddenError, match="someone else must review it"):
        workflow.approve(session, team.admin, post)
    assert post.status == PostStatus.SUBMITTED
    assert _work_items(session) == []


def test_an_admin_who_edited_a_post_cannot_approve_it(session: Session, team: Team) -> None:
    post = _draft(session, team)
    workflow.update_post(session, team.admin, post, master_text="Disunting admin")
    workflow.submit(session, team.editor, post)
    with pytest.raises(ForbiddenError):
        workflow.approve(session, team.admin, post)
    workflow.approve(session, team.approver, post)
    assert post.status == PostStatus.APPROVED


@pytest.mark.parametrize("role", [Role.EDITOR, Role.SUPERVISOR])
def test_only_approvers_and_admins_approve(session: Session, team: Team, role: str) -> None:
    post = _submitted(session, team)
    with pytest.raises(ForbiddenError):
        workflow.approve(session, make_user(session, team.agency, role), post)


def test_supervisor_only_reads(session: Session, team: Team) -> None:
    post = _draft(session, team)
    assert post.id is not None
    with pytest.raises(ForbiddenError):
        workflow.submit(session, team.supervisor, post)
    assert workflow.get_post(session, team.supervisor, post.id) == post


def test_an_inactive_user_can_do_nothing(session: Session, team: Team) -> None:
    post = _submitted(session, team)
    team.approver.active = False
    with pytest.raises(ForbiddenError):
        workflow.approve(session, team.approver, post)


def test_submit_refuses_a_rendition_over_the_limit(session: Session, team: Team) -> None:
    post = _draft(session, team, master_text="a" * 300)
    with pytest.raises(RenditionError, match="X text is"):
        workflow.submit(session, team.editor, post)
    assert post.status == PostStatus.DRAFT
    assert _actions(session, "post", post.id) == ["post.created"]


def test_only_the_author_or_an_admin_submits(session: Session, team: Team) -> None:
    post = _draft(session, team)
    with pytest.raises(ForbiddenError):
        workflow.submit(session, make_user(session, team.agency, Role.EDITOR), post)
    workflow.submit(session, team.admin, post)
    assert post.status == PostStatus.SUBMITTED


def test_a_submitted_post_cannot_be_edited_or_resubmitted(session: Session, team: Team) -> None:
    post = _submitted(session, team)
    with pytest.raises(GaungError, match="can be edited"):
        workflow.update_post(session, team.editor, post, master_text="Diam-diam diubah")
    with pytest.raises(GaungError, match="Only a draft can be submitted"):
        workflow.submit(session, team.editor, post)


@pytest.mark.parametrize("note", ["", "   \n "])
def test_reject_needs_a_note(session: Session, team: Team, note: str) -> None:
    post = _submitted(session, team)
    with pytest.raises(GaungError) as caught:
        workflow.reject(session, team.approver, post, note)
    assert caught.value.field == "note"
    assert post.status == PostStatus.SUBMITTED


def test_a_rejected_post_goes_back_to_draft_when_edited(session: Session, team: Team) -> None:
    post = _submitted(session, team)
    workflow.reject(session, team.approver, post, "Sertakan sumber data.")
    assert post.status == PostStatus.REJECTED
    assert post.review_note == "Sertakan sumber data."
    assert post.approver_id == team.approver.id
    with pytest.raises(GaungError, match="Only a draft can be submitted"):
        workflow.submit(session, team.editor, post)

    workflow.update_post(session, team.editor, post, master_text="Menurut BPS, 1 juta UMKM.")
    assert post.status == PostStatus.DRAFT
    workflow.submit(session, team.editor, post)
    workflow.approve(session, team.approver, post)
    assert _actions(session, "post", post.id) == [
        "post.created",
        "post.submitted",
        "post.rejected",
        "post.updated",
        "post.submitted",
        "post.approved",
    ]
    rejected = session.exec(select(AuditLog).where(AuditLog.action == "post.rejected")).one()
    assert rejected.detail == "Sertakan sumber data."
    assert len(_work_items(session)) == 1


def test_the_author_cannot_reject_their_own_post(session: Session, team: Team) -> None:
    post = _draft(session, team, author=team.admin)
    workflow.submit(session, team.admin, post)
    with pytest.raises(ForbiddenError):
        workflow.reject(session, team.admin, post, "Batal")


# --- dispatch now -----------------------------------------------------------------------


def test_dispatch_now_moves_the_queued_dispatch_to_now(session: Session) -> None:
    team = _team(session, kind=CampaignKind.HOAX_CLARIFICATION)
    later = utcnow() + timedelta(days=1)
    post = _submitted(session, team, scheduled_at=later)
    workflow.approve(session, team.approver, post)
    [item] = _work_items(session)
    assert item.run_at == later

    before = utcnow()
    workflow.dispatch_now(session, team.approver, post)
    session.expire_all()
    [item] = _work_items(session)
    assert before <= item.run_at <= utcnow()
    # Only the time moves: sending early does not make a post urgent (notice priority,
    # muted reminders and digests follow the post's own urgency).
    assert not post.urgent
    assert _actions(session, "post", post.id)[-1] == "post.dispatch_now"


def test_dispatch_now_needs_an_approved_post(session: Session, team: Team) -> None:
    post = _submitted(session, team)
    with pytest.raises(GaungError, match="approved"):
        workflow.dispatch_now(session, team.approver, post)
    assert _work_items(session) == []


def test_an_editor_cannot_dispatch_now(session: Session, team: Team) -> None:
    post = _submitted(session, team)
    workflow.approve(session, team.approver, post)
    with pytest.raises(ForbiddenError):
        workflow.dispatch_now(session, team.editor, post)


# --- agency isolation -------------------------------------------------------------------


def test_another_agencys_rows_look_like_missing_ones(
    session: Session, team: Team, other: Team
) -> None:
    theirs = make_post(session, other.campaign, other.editor, status=PostStatus.SUBMITTED)
    assert theirs.id is not None
    assert other.campaign.id is not None
    with pytest.raises(NotFoundError) as foreign:
        workflow.get_post(session, team.editor, theirs.id)
    with pytest.raises(NotFoundError) as missing:
        workflow.get_post(session, team.editor, 999_999)
    assert str(foreign.value) == str(missing.value)
    with pytest.raises(NotFoundError):
        workflow.get_campaign(session, team.editor, other.campaign.id)
    with pytest.raises(NotFoundError):
        workflow.approve(session, team.approver, theirs)
    with pytest.raises(NotFoundError):
        workflow.update_post(session, team.admin, theirs, master_text="Bukan milik kami")
    assert theirs.status == PostStatus.SUBMITTED


def test_lists_show_only_the_users_agency(session: Session, team: Team, other: Team) -> None:
    mine = _draft(session, team)
    submitted = _submitted(session, team)
    make_post(session, other.campaign, other.editor)
    assert team.campaign.id is not None
    assert workflow.list_campaigns(session, team.supervisor) == [team.campaign]
    assert workflow.get_campaign(session, team.editor, team.campaign.id) == team.campaign
    assert workflow.list_posts(session, team.supervisor) == [submitted, mine]
    assert workflow.list_posts(session, team.editor, status=PostStatus.DRAFT) == [mine]
    assert workflow.list_posts(session, team.editor, campaign_id=other.campaign.id) == []
