"""Notifications on the ASN's devices (Web Push): the endpoints the inbox's script calls.

The page script (``web/static/push.js``) registers the service worker (``/sw.js``, scope
``/inbox/``), asks the browser for a push subscription bound to the instance's VAPID
key and hands it to Gaung. JSON in and out; the writes need the session's CSRF token in
``X-CSRF-Token`` (the same token the forms carry), and all of them a signed-in ASN
(401 otherwise, not a redirect: a script is asking).

- ``GET  /inbox/push/key``: ``{"public_key": <VAPID key, base64url>}``;
- ``GET  /inbox/push/devices``: the ASN's devices;
- ``POST /inbox/push/subscriptions``: ``{"subscription": PushSubscription.toJSON(),
  "label": "Chrome on Android"}`` -> 201 ``{"id", "label"}``; bad input -> 400
  ``{"error", "field"}``;
- ``POST /inbox/push/unsubscribe``: ``{"endpoint"}`` -> ``{"removed": bool}`` (the device
  turned notifications off);
- ``POST /inbox/push/devices/{id}/remove``: the settings page's *Remove* button (a form).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from sqlmodel import Session

from channels import webpush
from gaung import i18n
from gaung.db import get_engine, get_session
from gaung.errors import N_, GaungError
from gaung.i18n import gettext as _
from gaung.settings import PROJECT_ROOT
from roster.models import Asn, AsnStatus
from web.deps import current_asn, signed_in_asn, verify_csrf

router = APIRouter(include_in_schema=False)

SERVICE_WORKER = PROJECT_ROOT / "web" / "static" / "sw.js"
MAX_BODY = 8192
_FLASH_KEY = "inbox_flash"  # web.inbox_settings shows it


def _asn(request: Request, session: Session = Depends(get_session)) -> Asn | None:
    """The signed-in, active ASN; None makes the endpoint answer 401 (JSON, no redirect)."""
    asn = signed_in_asn(request, session)
    if asn is None or asn.status != AsnStatus.ACTIVE:
        return None
    request.state.asn = asn
    return asn


def _unauthorised() -> Response:
    return JSONResponse({"error": _("Sign in to the inbox first.")}, status_code=401)


def _device(device: webpush.Device) -> dict[str, Any]:
    return {
        "id": device.id,
        "label": device.label,
        "push_service": device.origin,
        "created_at": device.created_at.isoformat(),
        "last_success_at": device.last_success_at.isoformat() if device.last_success_at else None,
    }


async def _json(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise GaungError(
            N_("The request is larger than %(max)s bytes."), field="subscription", max=MAX_BODY
        )
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise GaungError(
            N_("The subscription must be a JSON object."), field="subscription"
        ) from None


def _error(exc: GaungError) -> JSONResponse:
    return JSONResponse({"error": exc.render(_), "field": exc.field}, status_code=400)


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, from the site's root so it may control ``/inbox/``."""
    return FileResponse(
        SERVICE_WORKER,
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )


@router.get("/inbox/push/key")
def public_key(asn: Asn | None = Depends(_asn)) -> Response:
    if asn is None:
        return _unauthorised()
    return JSONResponse({"public_key": webpush.ensure_vapid_key(get_engine())})


@router.get("/inbox/push/devices")
def list_devices(
    asn: Asn | None = Depends(_asn), session: Session = Depends(get_session)
) -> Response:
    if asn is None or asn.id is None:
        return _unauthorised()
    return JSONResponse({"devices": [_device(d) for d in webpush.devices(session, asn.id)]})


@router.post("/inbox/push/subscriptions")
async def add_subscription(
    request: Request,
    asn: Asn | None = Depends(_asn),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    if asn is None or asn.id is None:
        return _unauthorised()
    try:
        data = await _json(request)
        if not isinstance(data, dict):
            raise GaungError(N_("The subscription must be a JSON object."), field="subscription")
        label = data.get("label")
        row = webpush.subscribe(
            session, asn.id, data.get("subscription"), label=label if isinstance(label, str) else ""
        )
    except GaungError as exc:
        session.rollback()
        return _error(exc)
    return JSONResponse({"id": row.id, "label": row.label}, status_code=201)


@router.post("/inbox/push/unsubscribe")
async def remove_subscription(
    request: Request,
    asn: Asn | None = Depends(_asn),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    if asn is None or asn.id is None:
        return _unauthorised()
    try:
        data = await _json(request)
    except GaungError as exc:
        return _error(exc)
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not endpoint.strip():
        return _error(GaungError(N_("The subscription has no endpoint."), field="endpoint"))
    return JSONResponse({"removed": webpush.unsubscribe(session, asn.id, endpoint=endpoint)})


@router.post("/inbox/push/devices/{device_id}/remove")
def remove_device(
    device_id: int,
    request: Request,
    asn: Asn = Depends(current_asn),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    assert asn.id is not None
    removed = webpush.unsubscribe(session, asn.id, id=device_id)
    with i18n.use_locale(asn.locale):
        note = (
            _("The device no longer gets notifications.")
            if removed
            else _("That device was already removed.")
        )
    request.session[_FLASH_KEY] = note
    return RedirectResponse("/inbox/settings#devices", status_code=303)
