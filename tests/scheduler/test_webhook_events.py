"""Each webhook event is emitted exactly once per change, in the change's own transaction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments import feedback
from channels.x import XPlatform
from content import workflow
from content.models import Campaign, PostStatus
from gaung.errors import GaungError
from kernel import webhooks
from kernel.webhooks import EventType, WebhookDelivery, WebhookEvent
from roster.models import Agency, Role
from scheduler.dispatch import dispatch_post
from scheduler.verify import verify_link, verify_post
from tests.channels import fakes_x
from tests.channels.fakes_x import FakeX
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.scheduler import test_verify
from tests.scheduler.test_verify import OFFICIAL, OFFICIAL_POST, World, _reported, _retweet

URL = "https://hooks.example.go.id/gaung"
world = test_verify.world  # the verification tests' fixture: a post, Ani and Budi on X


def _subscribe(session: Session, agency_id: int) -> int:
    endpoint, _secret = webhooks.create_endpoint(
        session, agency_id, url=URL, events=tuple(EventType)
    )
    session.commit()
    assert endpoint.id is not None
    return endpoint.id


def _agency_of(session: Session, campaign_id: int) -> int:
    return session.get_one(Campaign, campaign_id).agency_id


def events(session: Session, event_type: str) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.exec(
        select(WebhookEvent).where(WebhookEvent.type == event_type).order_by(col(WebhookEvent.id))
    ).all()
    return [json.loads(row.payload) for row in rows]


def test_post_dispatched_once_even_when_dispatch_runs_twice(db: Engine, session: Session) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    make_asn(session, unit, platforms=["x"])
    campaign = make_campaign(session, session.get_one(Agency, agency.id), editor, units=[unit])
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    assert agency.id is not None
    assert post.id is not None
    endpoint_id = _subscribe(session, agency.id)

    assert dispatch_post(db, post.id) == 1
    assert dispatch_post(db, post.id) == 0

    [event] = events(session, EventType.POST_DISPATCHED)
    assert event["type"] == "post.dispatched"
    assert event["data"]["post_id"] == post.id
    assert event["data"]["campaign_id"] == campaign.id
    assert event["data"]["assignments"] == 1
    assert event["data"]["assignments_per_platform"]["x"] == 1
    [delivery] = session.exec(select(WebhookDelivery)).all()
    assert delivery.endpoint_id == endpoint_id


def test_assignment_reported_once_per_report(session: Session, world: World) -> None:
    _subscribe(session, _agency_of(session, world.post.campaign_id))

    task = _reported(session, world.ani_task, world.ani, "777")

    [event] = events(session, EventType.ASSIGNMENT_REPORTED)
    data = event["data"]
    assert data["assignment_id"] == task.id
    assert data["repost_url"] == task.repost_url
    assert data["platform"] == "x"
    assert "name" not in data
    assert "nip" not in data


def test_failed_report_emits_nothing(session: Session, world: World) -> None:
    _subscribe(session, _agency_of(session, world.post.campaign_id))
    _reported(session, world.ani_task, world.ani, "777")
    with pytest.raises(GaungError, match="already been reported"):
        _reported(session, world.budi_task, world.budi, "777")  # the same repost again
    session.rollback()
    [event] = events(session, EventType.ASSIGNMENT_REPORTED)
    assert event["data"]["assignment_id"] == world.ani_task.id


def test_assignment_verified_once_by_the_search(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    _subscribe(session, _agency_of(session, world.post.campaign_id))
    fake_x.sign_up(fakes_x.user("101", "ani_asn"), fakes_x.user("102", "budi_asn"))
    fake_x.post(OFFICIAL_POST, _retweet("905", "101"))
    assert world.post.id is not None

    verify_post(db, world.post.id, 0, platform=x)
    fake_x.post(fakes_x.quote("910", "101", "Mantap", OFFICIAL), _retweet("907", "102"))
    verify_post(db, world.post.id, 1, platform=x)

    found = events(session, EventType.ASSIGNMENT_VERIFIED)
    assert [e["data"]["assignment_id"] for e in found] == [world.ani_task.id, world.budi_task.id]
    assert {e["data"]["check"] for e in found} == {"x_search"}
    assert found[0]["data"]["repost_url"] == "https://x.com/ani_asn/status/905"


def test_assignment_verified_once_by_the_link_check(
    db: Engine, session: Session, world: World, x: XPlatform, fake_x: FakeX
) -> None:
    _subscribe(session, _agency_of(session, world.post.campaign_id))
    task = _reported(session, world.ani_task, world.ani, "777")
    fake_x.post(fakes_x.quote("777", "101", "Setuju", OFFICIAL))
    assert task.id is not None

    verify_link(db, task.id, platform=x)
    verify_link(db, task.id, platform=x)  # checked again: still verified, no new event

    [event] = events(session, EventType.ASSIGNMENT_VERIFIED)
    assert event["data"]["assignment_id"] == task.id
    assert event["data"]["check"] == "x_lookup"


def test_feedback_received_once_per_submission(session: Session, world: World) -> None:
    _subscribe(session, _agency_of(session, world.post.campaign_id))
    assert world.ani_task.id is not None

    item = feedback.submit(
        session, world.ani, world.ani_task.id, "Kapan pendaftaran dibuka?", "https://x.com/a/1"
    )

    [event] = events(session, EventType.FEEDBACK_RECEIVED)
    assert event["data"]["feedback_id"] == item.id
    assert event["data"]["text"] == "Kapan pendaftaran dibuka?"
    assert event["data"]["campaign_id"] == world.post.campaign_id


def test_another_agencys_endpoint_hears_nothing(session: Session, world: World) -> None:
    other = make_agency(session)
    assert other.id is not None
    _subscribe(session, other.id)

    _reported(session, world.ani_task, world.ani, "777")

    assert events(session, EventType.ASSIGNMENT_REPORTED) == []


def test_post_approved_and_withdrawn_once_each(session: Session) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    approver = make_user(session, agency, Role.APPROVER)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, status=PostStatus.SUBMITTED)
    post.platforms = "x"  # Instagram would need an image
    session.add(post)
    session.commit()
    assert agency.id is not None
    _subscribe(session, agency.id)

    workflow.approve(session, approver, post)
    with pytest.raises(GaungError):
        workflow.approve(session, approver, post)
    session.rollback()
    workflow.withdraw(session, approver, post)
    with pytest.raises(GaungError):
        workflow.withdraw(session, approver, post)
    session.rollback()

    [approved] = events(session, EventType.POST_APPROVED)
    assert approved["data"]["post_id"] == post.id
    assert approved["data"]["campaign_id"] == campaign.id
    assert approved["data"]["platforms"] == post.platform_list()
    [withdrawn] = events(session, EventType.POST_WITHDRAWN)
    assert withdrawn["data"]["post_id"] == post.id
    assert withdrawn["data"]["was"] == "approved"
