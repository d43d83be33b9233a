"""Dashboard page "Reach across the network": a coordinator's campaign, per agency and in
total (assignments.network_reach).

Only the coordinator's staff open it (the dashboard's readers; another agency's campaign
answers 404, as everywhere), and it names agencies only: each member's people, units and
assignments stay on that member's own dashboard of its copy.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from assignments.network_reach import NetworkReach, network_reach
from assignments.reach import headline
from content import workflow
from content.models import Campaign, CampaignOffer
from gaung.db import get_session
from gaung.errors import N_, NotFoundError
from gaung.i18n import gettext as _
from roster import networks
from roster.models import User
from web.dashboard import reader
from web.deps import render

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def has_offers(campaign: Campaign) -> bool:
    """Whether the campaign was offered to a network (the dashboard then links here)."""
    session = object_session(campaign)
    if not isinstance(session, Session) or campaign.source_campaign_id is not None:
        return False
    query = select(col(CampaignOffer.id)).where(CampaignOffer.campaign_id == campaign.id)
    return session.exec(query.limit(1)).first() is not None


def install(env: Any) -> None:
    """Give the pages' Jinja environment ``network_offered(campaign)`` (dashboard/campaign.html)."""
    env.globals["network_offered"] = has_offers


def coordinated_reach(session: Session, user: User, campaign_id: int) -> NetworkReach:
    """The network reach of the user's agency's campaign; 404 for another agency's, for a
    member's copy and for a campaign of an agency that coordinates nothing and offered nothing."""
    campaign = workflow.get_campaign(session, user, campaign_id)
    if campaign.source_campaign_id is not None or (
        networks.of_coordinator(session, campaign.agency_id) is None and not has_offers(campaign)
    ):
        raise NotFoundError(N_("Campaign not found."))
    return network_reach(session, campaign)


def status_labels() -> dict[str, str]:
    return {
        "coordinator": _("Coordinator"),
        "offered": _("Awaiting an answer"),
        "accepted": _("Accepted"),
        "declined": _("Declined"),
    }


@router.get("/campaigns/{campaign_id:int}/network")
def network_page(
    request: Request,
    campaign_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    reach = coordinated_reach(session, user, campaign_id)
    context = {
        "campaign": workflow.get_campaign(session, user, campaign_id),
        "network": networks.of_coordinator(session, user.agency_id),
        "reach": reach,
        "headline": headline(reach.national).items(),
        "statuses": status_labels(),
    }
    return render(request, "dashboard/network.html", context)
