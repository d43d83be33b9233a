"""The JSON API's side of "not acted yet": who still has to act per unit, and reminding them.

Same authentication, roles and answers as web.api (supervisors and Humas of the
campaign's agency; another agency's campaign 404). The reminder honours an
``Idempotency-Key``; without one, a request is a click of its own (still at most one
reminder by hand per unit and interval).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from content import workflow
from gaung.db import get_session
from roster.models import Role, User
from scheduler import manual_reminders
from scheduler.manual_reminders import Outcome, UnitWaiting
from web.api import (
    ERRORS,
    IDEMPOTENT_ERRORS,
    MAX_ID,
    CampaignId,
    IdempotencyKey,
    ServiceErrors,
    idempotent,
)
from web.api_auth import api_role

router = APIRouter(prefix="/api", tags=["api"], route_class=ServiceErrors)
staff = api_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
staff_write = api_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR, write=True)
MAX_PEOPLE = 5000


class WaitingPersonOut(BaseModel):
    asn_id: int
    name: str
    platforms: list[str] = Field(description="Platforms with an assignment still open")
    messenger: str = Field(description="Where reminders reach them")
    open: int = Field(description="Assignments of the campaign still open")
    reminders_off: bool = Field(description="Turned reminders off: skipped unless urgent")
    last_notice_at: datetime | None = Field(description="Latest assignment notice, sent or queued")
    last_reminder_at: datetime | None = Field(description="Latest reminder, scheduled or by hand")


class WaitingUnitOut(BaseModel):
    unit_id: int
    unit: str
    count: int = Field(description="People in the unit who have not acted yet (all of them)")
    people: list[WaitingPersonOut] = Field(description="The first people_limit, by name")
    last_manual_reminder_at: datetime | None
    next_manual_reminder_at: datetime | None = Field(
        description="When a reminder by hand is possible again; null: now"
    )


class NotActedOut(BaseModel):
    campaign_id: int
    total: int = Field(description="People who have not acted yet, all units")
    manual_interval_hours: int = Field(description="Between two reminders by hand of a unit")
    recent_hours: int = Field(description="People told within this are skipped")
    units: list[WaitingUnitOut]


class RemindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="The unit to remind; null: every unit"
    )


class RemindOutcomeOut(BaseModel):
    unit_id: int
    unit: str
    result: manual_reminders.Result = Field(
        description="sent; replayed (this request was already done); too_soon (see next_at); "
        "all_skipped (everyone told recently or reminders off); nobody (nobody left to act)"
    )
    queued: int
    skipped_recent: int = Field(description="Told (notice or reminder) within recent_hours")
    skipped_muted: int = Field(description="Turned reminders off")
    next_at: datetime | None = Field(description="too_soon: when it is possible again")


def unit_out(unit: UnitWaiting, limit: int) -> WaitingUnitOut:
    return WaitingUnitOut(
        unit_id=unit.unit_id,
        unit=unit.unit,
        count=len(unit.people),
        people=[
            WaitingPersonOut(
                asn_id=p.asn_id,
                name=p.name,
                platforms=list(p.platforms),
                messenger=p.messenger,
                open=p.open,
                reminders_off=p.muted,
                last_notice_at=p.last_notice_at,
                last_reminder_at=p.last_reminder_at,
            )
            for p in unit.people[:limit]
        ],
        last_manual_reminder_at=unit.last_manual_at,
        next_manual_reminder_at=unit.next_manual_at,
    )


def outcome_out(outcome: Outcome) -> RemindOutcomeOut:
    return RemindOutcomeOut(
        unit_id=outcome.unit_id,
        unit=outcome.unit,
        result=outcome.result,
        queued=outcome.queued,
        skipped_recent=outcome.skipped_recent,
        skipped_muted=outcome.skipped_muted,
        next_at=outcome.next_at,
    )


class RemindOut(BaseModel):
    units: list[RemindOutcomeOut]


@router.get("/campaigns/{campaign_id}/not-acted", response_model=NotActedOut, responses=ERRORS)
def not_acted(
    campaign_id: CampaignId,
    people_limit: int = Query(500, ge=0, le=MAX_PEOPLE, description="People listed per unit"),
    user: User = Depends(staff),
    session: Session = Depends(get_session),
) -> NotActedOut:
    """Per unit, the people whose assignments of the campaign are still open (not reported,
    declined, expired or withdrawn; a rejected link counts as open), with when they were
    last told, and when the unit can be reminded by hand again."""
    campaign = workflow.get_campaign(session, user, campaign_id)
    assert campaign.id is not None
    units = manual_reminders.not_acted(session, campaign)
    interval, recent = manual_reminders.intervals()
    return NotActedOut(
        campaign_id=campaign.id,
        total=sum(len(u.people) for u in units),
        manual_interval_hours=int(interval.total_seconds() // 3600),
        recent_hours=int(recent.total_seconds() // 3600),
        units=[unit_out(u, people_limit) for u in units],
    )


@router.post(
    "/campaigns/{campaign_id}/reminders", response_model=RemindOut, responses=IDEMPOTENT_ERRORS
)
def send_reminders(
    request: Request,
    campaign_id: CampaignId,
    body: RemindIn,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Remind the people of one unit (or of every unit) who have not acted yet, with the
    scheduled reminders' text; people told recently or with reminders off are skipped, and
    a unit reminded by hand within the interval answers too_soon."""
    campaign = workflow.get_campaign(session, user, campaign_id)
    if key is None:
        request_key = secrets.token_hex(16)
    else:
        request_key = hashlib.sha256(f"{user.id}:{key}".encode()).hexdigest()[:64]

    def produce() -> RemindOut:
        outcomes = manual_reminders.remind(session, user, campaign, request_key, body.unit_id)
        return RemindOut(units=[outcome_out(o) for o in outcomes])

    return idempotent(request, session, user, key, body.model_dump(mode="json"), produce)
