"""Console pages "Campaign offers": a member agency's staff answer their network's offers.

Editors, approvers, admins and supervisors of the agency an offer was made to read it:
the coordinator's campaign and the texts of its posts. Approvers and admins accept it
(for some of their units, with an earlier deadline of their own) into their agency's own
copy of the campaign, or decline it with a note the coordinator reads. content.offers holds
every rule; another agency's offer answers 404 there.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from content import offers, rendering
from content import variants as post_variants
from content.models import CampaignOffer, Post
from content.offers import OfferView
from gaung import i18n
from gaung.db import get_session
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from gaung.i18n import gettext as _
from roster.models import Agency, Role, User
from web.console import (
    agency_units,
    flash,
    page,
    parse_local,
    see_other,
    shown_field,
    staff_zone,
)
from web.deps import require_role, verify_csrf

router = APIRouter(prefix="/console/offers", include_in_schema=False)
reader = require_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)  # admin always passes
decider = require_role(Role.APPROVER)
DECIDERS = (Role.APPROVER, Role.ADMIN)
ACCEPT_FIELDS = frozenset({"unit_ids", "deadline"})
DECLINE_FIELDS = frozenset({"note"})
STAFF_ROLES = frozenset({Role.EDITOR, Role.APPROVER, Role.ADMIN, Role.SUPERVISOR})
STATUS_CLASSES = {"offered": "warn", "accepted": "good", "declined": "muted"}


def status_labels() -> dict[str, str]:
    return {
        "offered": _("Awaiting an answer"),
        "accepted": _("Accepted"),
        "declined": _("Declined"),
    }


def nav_count(user: User | None) -> int | None:
    """For the menu: None when the user's agency never got an offer (no entry), else how
    many are still open. Two indexed look-ups by agency."""
    session = object_session(user) if user is not None else None
    if user is None or user.role not in STAFF_ROLES or not isinstance(session, Session):
        return None
    query = select(col(CampaignOffer.id)).where(CampaignOffer.agency_id == user.agency_id)
    if session.exec(query.limit(1)).first() is None:
        return None
    return offers.open_count(session, user.agency_id)


def install(env: Any) -> None:
    """Give the pages' Jinja environment ``open_offers(user)`` (the menu in base.html)."""
    env.globals["open_offers"] = nav_count


def _posts(session: Session, view: OfferView, agency: Agency) -> list[dict[str, Any]]:
    """The coordinator's posts that go out with the offer, rendered per platform as the
    reader's agency would send them (its disclosure tag)."""
    query = (
        select(Post)
        .where(Post.campaign_id == view.campaign.id, col(Post.status).in_(offers.COPIED))
        .order_by(col(Post.id))
    )
    tag = rendering.disclosure_tag_for(agency)
    shown = []
    for post in session.exec(query).all():
        renditions = rendering.preview(
            post,
            kind=view.campaign.kind,
            disclosure_tag=tag,
            variants=post_variants.load(session, post.id),
        )
        labelled = [
            {
                "platform": r.platform,
                "text": r.text,
                "label": _("Alternative %(number)s") % {"number": r.position} if r.position else "",
            }
            for r in renditions
        ]
        shown.append({"post": post, "renditions": labelled})
    return shown


def _detail(
    request: Request,
    session: Session,
    user: User,
    offer_id: int,
    *,
    error: GaungError | None = None,
    form: str = "",
    values: dict[str, Any] | None = None,
) -> Response:
    view = offers.incoming_view(session, user, offer_id)
    agency = session.get_one(Agency, user.agency_id)
    fields = ACCEPT_FIELDS if form == "accept" else DECLINE_FIELDS
    context = {
        "view": view,
        "posts": _posts(session, view, agency),
        "units": agency_units(session, user),
        "can_decide": user.role in DECIDERS and view.offer.status == "offered",
        "values": values or {"unit_ids": [], "deadline": "", "note": ""},
        "form": form,
        "error": error.render(_) if error else None,
        "error_field": shown_field(error, fields),
        "zone_label": i18n.zone_label(staff_zone(session, user)),
        "offer_statuses": status_labels(),
        "offer_classes": STATUS_CLASSES,
    }
    return page(request, "offer.html", context, status_code=400 if error else 200)


@router.get("")
def offer_list(
    request: Request, user: User = Depends(reader), session: Session = Depends(get_session)
) -> Response:
    context = {
        "views": offers.incoming(session, user),
        "offer_statuses": status_labels(),
        "offer_classes": STATUS_CLASSES,
    }
    return page(request, "offers.html", context)


@router.get("/{offer_id:int}")
def offer_detail(
    request: Request,
    offer_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    return _detail(request, session, user, offer_id)


@router.post("/{offer_id:int}/accept")
async def accept_offer(
    request: Request,
    offer_id: int,
    user: User = Depends(decider),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    # An id beyond an INTEGER column is no one's unit: 0 (refused as such), not an overflow.
    typed_ids = [v for v in map(str, form.getlist("unit_ids")) if v.isdigit()]
    unit_ids = [int(v) if len(v) < 10 else 0 for v in typed_ids]
    typed = str(form.get("deadline") or "")
    values: dict[str, Any] = {"unit_ids": unit_ids, "deadline": typed, "note": ""}
    try:
        # Wall time in the reader's zone, as the campaign form reads it.
        deadline = parse_local(typed, "deadline", staff_zone(session, user))
        copy = offers.accept(session, user, offer_id, unit_ids=unit_ids, deadline=deadline)
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        session.rollback()
        return _detail(request, session, user, offer_id, error=err, form="accept", values=values)
    message = _("Offer accepted: the campaign is now your agency's own.")
    flash(request, message)
    return see_other(f"/console/campaigns/{copy.id}")


@router.post("/{offer_id:int}/decline")
async def decline_offer(
    request: Request,
    offer_id: int,
    user: User = Depends(decider),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    note = str((await request.form()).get("note") or "")
    try:
        offers.decline(session, user, offer_id, note)
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        session.rollback()
        values = {"unit_ids": [], "deadline": "", "note": note}
        return _detail(request, session, user, offer_id, error=err, form="decline", values=values)
    flash(request, _("Offer declined. The coordinator reads your note."))
    return see_other("/console/offers")
