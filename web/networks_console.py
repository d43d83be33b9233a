"""Console page "Agency networks": the instance operator sets who coordinates whom.

A network lets its coordinator offer campaigns to the member agencies (content.offers), so
only the instance's operators (roster.operators) may create one or change its members; every
rule and the audit trail are in roster.networks, this module turns forms into its calls and
its errors back into the form they came from.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from gaung import i18n
from gaung.db import get_session
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from gaung.i18n import gettext as _
from roster import networks
from roster.models import Agency, Role, User
from roster.operators import is_operator
from web.deps import current_user, render, verify_csrf

router = APIRouter(prefix="/console/networks", include_in_schema=False)
PAGE = "/console/networks"
# The forms of the page: a new network, and one "add a member" form per network.
CREATE_FIELDS = frozenset({"name", "coordinator"})
MEMBER_FIELDS = frozenset({"agency"})


def nav_entry(user: User | None) -> bool:
    """For the menu: whether to show "Agency networks" (admins who run the instance)."""
    session = object_session(user) if user is not None else None
    if user is None or user.role != Role.ADMIN or not isinstance(session, Session):
        return False
    return is_operator(session, user)


def install(env: Any) -> None:
    """Give the pages' Jinja environment ``runs_instance(user)`` (the menu in base.html)."""
    env.globals["runs_instance"] = nav_entry


def operator(user: User = Depends(current_user), session: Session = Depends(get_session)) -> User:
    """Networks span agencies: only the instance's operators manage them."""
    if not is_operator(session, user):
        message = i18n.gettext("Only the instance operator manages agency networks.")
        raise HTTPException(status_code=403, detail=message)
    return user


def _page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The page; ``errors`` maps a form ("create", "member-<network id>") to its fields'."""
    agencies = list(session.exec(select(Agency).order_by(col(Agency.name))).all())
    views = networks.views(session)
    coordinators = {view.coordinator.id for view in views}
    context: dict[str, Any] = {
        "views": views,
        "agencies": agencies,
        # Each agency coordinates at most one network: the others are offered as coordinator.
        "free_coordinators": [a for a in agencies if a.id not in coordinators],
        "candidates": {
            view.network.id: [
                a for a in agencies if a.id != view.coordinator.id and a not in view.members
            ]
            for view in views
        },
        "errors": errors or {},
        "error": error,
        "values": values or {},
        "flash": request.session.pop("flash", None),
    }
    return render(request, "console/networks.html", context, status_code=status)


def _refused(
    request: Request,
    session: Session,
    err: GaungError,
    form: str,
    fields: frozenset[str],
    values: dict[str, str],
) -> Response:
    """Re-render the page with the service's refusal next to its field (else on top)."""
    session.rollback()
    message = err.render(_)
    if err.field in fields:
        errors = {form: {str(err.field): message}}
        return _page(request, session, errors=errors, values=values, status=400)
    return _page(request, session, error=message, values=values, status=400)


def _done(request: Request, message: str) -> RedirectResponse:
    request.session["flash"] = message
    return RedirectResponse(PAGE, status_code=303)


@router.get("")
def network_list(
    request: Request, user: User = Depends(operator), session: Session = Depends(get_session)
) -> Response:
    return _page(request, session)


@router.post("")
async def create_network(
    request: Request,
    user: User = Depends(operator),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    values = {
        "name": str(form.get("name") or ""),
        "coordinator": str(form.get("coordinator") or ""),
    }
    try:
        if not values["coordinator"]:
            raise GaungError(N_("Choose the coordinating agency."), field="coordinator")
        coordinator = networks.agency_by_slug(session, values["coordinator"], "coordinator")
        network = networks.create(session, user, values["name"], coordinator)
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        return _refused(request, session, err, "create", CREATE_FIELDS, values)
    session.commit()
    message = _("Network %(name)s created, coordinated by %(agency)s.")
    return _done(request, message % {"name": network.name, "agency": coordinator.name})


@router.post("/{network_id:int}/members")
async def add_member(
    request: Request,
    network_id: int,
    user: User = Depends(operator),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    network = networks.get(session, network_id)
    slug = str((await request.form()).get("agency") or "")
    try:
        if not slug:
            raise GaungError(N_("Choose an agency."), field="agency")
        agency = networks.agency_by_slug(session, slug)
        networks.add_members(session, user, network, [agency])
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        form = f"member-{network_id}"
        return _refused(request, session, err, form, MEMBER_FIELDS, {form: slug})
    session.commit()
    message = _("%(agency)s is a member of %(network)s.")
    return _done(request, message % {"agency": agency.name, "network": network.name})


@router.post("/{network_id:int}/members/remove")
async def remove_member(
    request: Request,
    network_id: int,
    user: User = Depends(operator),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    network = networks.get(session, network_id)
    slug = str((await request.form()).get("agency") or "")
    try:
        agency = networks.agency_by_slug(session, slug)
        networks.remove_member(session, user, network, agency)
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        return _refused(request, session, err, "", frozenset(), {})
    session.commit()
    message = _("%(agency)s left %(network)s; campaigns it accepted keep going out.")
    return _done(request, message % {"agency": agency.name, "network": network.name})
