"""The JSON API of cross-agency campaigns: offering a campaign to the network, answering
offers, and the network's reach per agency.

Same authentication, roles and answers as web.api: content.offers decides who may offer,
accept or decline (403 otherwise), another agency's campaign or offer answers 404, bad input
422 naming the field, a step the offer's state does not allow 409. POSTs honour an
``Idempotency-Key``. The coordinator reads per-agency figures only, never a member's people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from assignments.network_reach import AgencyReach
from content import offers, workflow
from content.offers import NOTE_MAX, OfferView
from gaung.db import get_session
from roster.models import Role, User
from web.api import (
    ERRORS,
    IDEMPOTENT_ERRORS,
    MAX_ID,
    CampaignId,
    FiguresOut,
    IdempotencyKey,
    ServiceErrors,
    UnitId,
    When,
    figures_out,
    idempotent,
)
from web.api_auth import api_role
from web.network_dashboard import coordinated_reach

router = APIRouter(prefix="/api", tags=["api"], route_class=ServiceErrors)
staff = api_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
# Writes: content.offers decides which role may do what (403 otherwise).
staff_write = api_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR, write=True)
OfferId = Annotated[int, Path(ge=1, le=MAX_ID, description="An offer id.")]


class OfferOut(BaseModel):
    id: int
    campaign_id: int = Field(description="The coordinator's campaign")
    title: str
    kind: str
    starts_at: datetime
    deadline: datetime = Field(description="The coordinator's deadline")
    coordinator_id: int
    coordinator: str = Field(description="The coordinating agency's name")
    agency_id: int = Field(description="The agency it is offered to")
    agency: str
    posts: int = Field(description="The coordinator's approved or dispatched posts")
    status: str = Field(description="offered, accepted or declined")
    offered_at: datetime
    decided_at: datetime | None
    note: str | None = Field(description="Why it was declined")
    copy_id: int | None = Field(description="Accepted: the member's own copy of the campaign")
    copy_deadline: datetime | None = Field(description="Accepted: the copy's deadline")
    units: list[str] = Field(description="Accepted: the copy's units; empty: the whole agency")


class OfferedOut(BaseModel):
    offered: int = Field(description="Agencies offered the campaign by this request")
    offers: list[OfferOut] = Field(description="Every offer of the campaign, by agency")


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_ids: list[UnitId] = Field(
        default=[], max_length=1000, description="Units of your agency; empty: the whole agency"
    )
    deadline: When | None = Field(
        default=None, description="Your own deadline, not after the coordinator's; null: theirs"
    )


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(max_length=NOTE_MAX * 2, description="Why your agency declines (required)")


class AgencyReachOut(BaseModel):
    agency_id: int
    agency: str
    status: str = Field(description="coordinator, or the offer's: offered, accepted, declined")
    note: str | None = Field(description="A decline's note")
    copy_id: int | None = Field(description="The member's copy, once accepted")
    deadline: datetime | None = Field(description="The copy's own deadline")
    units: list[str] = Field(description="The copy's units; empty: the whole agency")
    figures: FiguresOut


class NetworkReachOut(BaseModel):
    campaign_id: int
    accepted: int = Field(description="Agencies that accepted the offer")
    agencies: list[AgencyReachOut] = Field(description="The coordinator first, then by name")
    national: FiguresOut = Field(description="All agencies together")


def offer_out(view: OfferView) -> OfferOut:
    return OfferOut(
        id=view.offer.id or 0,
        campaign_id=view.campaign.id or 0,
        title=view.campaign.title,
        kind=view.campaign.kind,
        starts_at=view.campaign.starts_at,
        deadline=view.campaign.deadline,
        coordinator_id=view.coordinator.id or 0,
        coordinator=view.coordinator.name,
        agency_id=view.agency.id or 0,
        agency=view.agency.name,
        posts=view.posts,
        status=view.offer.status,
        offered_at=view.offer.offered_at,
        decided_at=view.offer.decided_at,
        note=view.offer.note,
        copy_id=view.copy.id if view.copy else None,
        copy_deadline=view.copy.deadline if view.copy else None,
        units=view.copy_units,
    )


def agency_reach_out(row: AgencyReach) -> AgencyReachOut:
    return AgencyReachOut(
        agency_id=row.agency.id or 0,
        agency=row.agency.name,
        status=row.status,
        note=row.note,
        copy_id=row.copy.id if row.copy else None,
        deadline=row.copy.deadline if row.copy else None,
        units=row.units,
        figures=figures_out(row.figures),
    )


@router.get("/campaigns/{campaign_id}/network", response_model=NetworkReachOut, responses=ERRORS)
def network(
    campaign_id: CampaignId, user: User = Depends(staff), session: Session = Depends(get_session)
) -> NetworkReachOut:
    """A coordinator's campaign across its network: each agency's figures (its own copy's)
    and the national total. A member's copy, or a campaign never offered by an agency that
    coordinates no network, answers 404."""
    reach = coordinated_reach(session, user, campaign_id)
    return NetworkReachOut(
        campaign_id=campaign_id,
        accepted=reach.accepted,
        agencies=[agency_reach_out(row) for row in reach.rows],
        national=figures_out(reach.national),
    )


@router.get("/offers", response_model=list[OfferOut], responses=ERRORS)
def incoming_offers(
    user: User = Depends(staff), session: Session = Depends(get_session)
) -> list[OfferOut]:
    """The offers made to the caller's agency, open ones first, then newest first."""
    return [offer_out(view) for view in offers.incoming(session, user)]


@router.post(
    "/campaigns/{campaign_id}/offer", response_model=OfferedOut, responses=IDEMPOTENT_ERRORS
)
def offer_campaign(
    request: Request,
    campaign_id: CampaignId,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Offer the campaign to every member of the caller's network not offered it yet
    (approvers and admins of the coordinating agency)."""
    campaign = workflow.get_campaign(session, user, campaign_id)

    def produce() -> OfferedOut:
        made = offers.offer(session, user, campaign)
        views = offers.offers_of(session, campaign_id)
        return OfferedOut(offered=len(made), offers=[offer_out(v) for v in views])

    return idempotent(request, session, user, key, None, produce)


@router.post("/offers/{offer_id}/accept", response_model=OfferOut, responses=IDEMPOTENT_ERRORS)
def accept_offer(
    request: Request,
    offer_id: OfferId,
    body: AcceptIn,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Accept an offer for the caller's agency (approvers and admins): its own copy of the
    campaign, for the units given (none: the whole agency) until its own deadline (null:
    the coordinator's)."""

    def produce() -> OfferOut:
        offers.accept(session, user, offer_id, unit_ids=body.unit_ids, deadline=body.deadline)
        return offer_out(offers.incoming_view(session, user, offer_id))

    return idempotent(request, session, user, key, body.model_dump(mode="json"), produce)


@router.post("/offers/{offer_id}/decline", response_model=OfferOut, responses=IDEMPOTENT_ERRORS)
def decline_offer(
    request: Request,
    offer_id: OfferId,
    body: DeclineIn,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Decline an offer with a note the coordinator reads (approvers and admins)."""

    def produce() -> OfferOut:
        offers.decline(session, user, offer_id, body.note)
        return offer_out(offers.incoming_view(session, user, offer_id))

    return idempotent(request, session, user, key, body.model_dump(mode="json"), produce)
