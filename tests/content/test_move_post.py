"""Moving a post to another time (the calendar): drafts only, audited, never into the past."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from content import checks, workflow
from content.models import Campaign, Post, PostStatus
from gaung.db import utcnow
from gaung.errors import ForbiddenError, GaungError
from kernel.audit import AuditLog
from roster.models import Role, User
from tests.factories import make_agency, make_campaign, make_post, make_user


def _draft(session: Session, status: str = PostStatus.DRAFT) -> tuple[User, Campaign, Post]:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    return editor, campaign, make_post(session, campaign, editor, status=status)


@pytest.mark.parametrize("status", [PostStatus.DRAFT, PostStatus.REJECTED])
def test_a_draft_moves_to_the_new_time_and_the_move_is_audited(
    session: Session, status: str
) -> None:
    editor, _campaign, post = _draft(session, status)
    new_time = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    workflow.move_post(session, editor, post, new_time)
    session.refresh(post)
    assert post.scheduled_at is not None
    assert post.scheduled_at.replace(tzinfo=UTC) == new_time
    assert post.status == status
    entry = session.exec(
        select(AuditLog).where(AuditLog.entity_id == post.id, AuditLog.action == "post.moved")
    ).one()
    assert entry.actor_id == editor.id
    assert new_time.isoformat() in entry.detail


@pytest.mark.parametrize(
    "status",
    [PostStatus.SUBMITTED, PostStatus.APPROVED, PostStatus.DISPATCHED, PostStatus.WITHDRAWN],
)
def test_a_post_past_the_draft_stage_cannot_be_moved(session: Session, status: str) -> None:
    editor, _campaign, post = _draft(session, status)
    before = post.scheduled_at
    with pytest.raises(GaungError, match="Only a draft or a rejected post can be moved"):
        workflow.move_post(session, editor, post, utcnow() + timedelta(days=1))
    session.rollback()
    session.refresh(post)
    assert post.scheduled_at == before
    moved = session.exec(select(AuditLog).where(AuditLog.action == "post.moved")).all()
    assert moved == []


def test_only_the_author_or_an_admin_moves_a_draft(session: Session) -> None:
    _editor, campaign, post = _draft(session)
    agency_id = campaign.agency_id
    other = User(
        email="other-editor@example.go.id",
        name="Other",
        password_hash="x",
        role=Role.EDITOR,
        agency_id=agency_id,
    )
    session.add(other)
    session.commit()
    with pytest.raises(ForbiddenError):
        workflow.move_post(session, other, post, utcnow() + timedelta(days=1))
    session.rollback()
    admin = User(
        email="admin-mover@example.go.id",
        name="Admin",
        password_hash="x",
        role=Role.ADMIN,
        agency_id=agency_id,
    )
    session.add(admin)
    session.commit()
    workflow.move_post(session, admin, post, utcnow() + timedelta(days=1))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(minutes=st.integers(min_value=-60 * 24 * 30, max_value=60 * 24 * 30))
def test_a_draft_moves_anywhere_from_now_on_but_never_into_the_past(
    session: Session, minutes: int
) -> None:
    editor, _campaign, post = _draft(session)
    target = utcnow() + timedelta(minutes=minutes)
    if minutes < -checks.PAST_GRACE.total_seconds() / 60 - 1:
        with pytest.raises(GaungError) as caught:
            workflow.move_post(session, editor, post, target)
        assert caught.value.field == "scheduled_at"
        session.rollback()
    elif minutes >= 0:
        workflow.move_post(session, editor, post, target)
        session.refresh(post)
        assert post.scheduled_at is not None
        assert abs(post.scheduled_at.replace(tzinfo=UTC) - target) < timedelta(seconds=1)
