"""The agency's audit log (/console/audit) and its CSV export, for admins and supervisors.

Supervisors read it too: they oversee the agency's work and already see who did what on
each campaign; the log holds ids, roles and reasons, not personal data of ASN.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from gaung import i18n
from gaung.db import get_session, utcnow
from gaung.errors import GaungError
from roster import audit_trail
from roster.agencies import local
from roster.models import Agency, Role, User
from web.deps import render, require_role

router = APIRouter(prefix="/console", include_in_schema=False)
reader = require_role(Role.SUPERVISOR)  # and admins (require_role always lets them in)


def _filters(person: str, action: str, since: str, until: str) -> audit_trail.Filters:
    return audit_trail.Filters(
        actor_id=int(person) if person.isdigit() else None,
        action=action.strip()[:60],
        since=audit_trail.parse_date(since, "since"),
        until=audit_trail.parse_date(until, "until"),
    )


@router.get("/audit")
def audit_page(
    request: Request,
    person: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    agency = session.get(Agency, user.agency_id)
    assert agency is not None
    typed = {"person": person, "action": action, "since": since, "until": until}
    context: dict[str, Any] = {
        "values": typed,
        "people": audit_trail.people(session, agency.id or 0),
        "actions": audit_trail.actions(session, agency.id or 0),
        "query": urlencode({k: v for k, v in typed.items() if v}),
    }
    try:
        filters = _filters(person, action, since, until)
    except GaungError as exc:
        context.update(error=exc.render(i18n.gettext), error_field=exc.field, result=None)
        return render(request, "console/audit_log.html", context, status_code=400)
    result = audit_trail.entries(session, agency, filters, page)
    context["result"] = result
    context["rows"] = [(entry, *local(entry.at, agency)) for entry in result.entries]
    return render(request, "console/audit_log.html", context)


@router.get("/audit.csv")
def audit_csv(
    person: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    agency = session.get(Agency, user.agency_id)
    assert agency is not None
    filters = _filters(person, action, since, until)  # a bad date: the 400 error page
    name = f"audit-{agency.slug}-{local(utcnow(), agency)[0]:%Y%m%d}.csv"
    # Built before answering: the database session ends with the request.
    return Response(
        "".join(audit_trail.csv_lines(session, agency, filters)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
