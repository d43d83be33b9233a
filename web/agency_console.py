"""The agency admin's settings page (/console/agency): name, logo, disclosure tag, time
zone, default deadline, stricter follower minimums, two-factor requirement.

The rules are roster.agencies'; the logo goes through content.media like a post image
(checked by content, re-encoded, stored under a random name).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile

from content.media import MAX_BYTES
from gaung import i18n
from gaung.db import get_session
from gaung.errors import N_, GaungError
from gaung.settings import PLATFORM_NAMES, get_settings
from roster import agencies
from roster.models import Agency, Role, User
from web.deps import render, require_role, verify_csrf
from web.uploads import store_image

router = APIRouter(prefix="/console", include_in_schema=False)
admin = require_role(Role.ADMIN)
HOME = "/console/agency"


def _values(agency: Agency) -> dict[str, Any]:
    return {
        "name": agency.name,
        "disclosure_tag": agency.disclosure_tag or "",
        "timezone": agency.timezone or "",
        "default_deadline_hours": agency.default_deadline_hours or "",
        "min_followers": {p: (agency.min_followers or {}).get(p, "") for p in PLATFORM_NAMES},
        "require_two_factor": agency.require_two_factor,
    }


def _page(
    request: Request,
    session: Session,
    agency: Agency,
    values: dict[str, Any],
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    settings = get_settings()
    context: dict[str, Any] = {
        "agency": agency,
        "values": values,
        "zones": agencies.TIMEZONES,
        "default_zone": agencies.TIMEZONES.get(settings.timezone, settings.timezone),
        "default_tag": settings.disclosure_tag,
        "platforms": PLATFORM_NAMES,
        "floors": {p: settings.eligibility.minimum(p) for p in PLATFORM_NAMES},
        "max_logo_mb": MAX_BYTES // (1024 * 1024),
        "flash": request.session.pop("flash", None),
        "units": agencies.units(session, agency.id or 0),
    }
    context.update(extra or {})
    return render(request, "console/agency.html", context, status_code=status)


@router.get("/agency")
def agency_page(
    request: Request, user: User = Depends(admin), session: Session = Depends(get_session)
) -> Response:
    agency = session.get(Agency, user.agency_id)
    assert agency is not None
    return _page(request, session, agency, _values(agency))


async def _logo(form: FormData) -> str | None:
    """The uploaded logo saved by content.media, or None when none was sent."""
    upload = form.get("logo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(MAX_BYTES + 1)  # one byte over: content.media names the size
    if not data:
        return None
    try:
        return await store_image(data)
    except GaungError as exc:  # content.media names its field "image"
        raise GaungError(exc.message, field="logo", **exc.params) from None


@router.post("/agency")
async def save_settings(
    request: Request,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    typed = agencies.AgencySettings(
        name=str(form.get("name") or ""),
        disclosure_tag=str(form.get("disclosure_tag") or ""),
        timezone=str(form.get("timezone") or ""),
        default_deadline_hours=str(form.get("default_deadline_hours") or ""),
        min_followers={p: str(form.get(f"min_followers_{p}") or "") for p in PLATFORM_NAMES},
        require_two_factor=form.get("require_two_factor") == "on",
    )
    try:
        logo = await _logo(form)
        agencies.update_settings(
            session, user, typed, logo=logo, remove_logo=form.get("remove_logo") == "on"
        )
    except GaungError as exc:
        session.rollback()
        agency = session.get(Agency, user.agency_id)
        assert agency is not None
        values = {**typed.__dict__}
        extra = {"error": exc.render(i18n.gettext), "error_field": exc.field}
        return _page(request, session, agency, values, extra, status=400)
    request.session["flash"] = i18n.gettext(N_("The agency settings were saved."))
    return RedirectResponse(HOME, status_code=303)


@router.post("/agency/units/{unit_id}/zone")
async def save_unit_zone(
    request: Request,
    unit_id: int,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    """A regional unit's own time zone: its ASN see their times in it."""
    zone = str((await request.form()).get("timezone") or "")
    unit = agencies.set_unit_zone(session, user, unit_id, zone)
    request.session["flash"] = i18n.gettext("Time zone of %(unit)s saved.") % {"unit": unit.name}
    return RedirectResponse(HOME, status_code=303)
