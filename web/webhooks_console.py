"""Console page "Webhooks": an agency's admins point Gaung's events at their own systems.

Admins add an endpoint (an https address; plain http only to this machine in development),
choose its events, switch it off and on, and read its delivery log: each event's status,
attempts, the receiver's last answer and, for a failed delivery, *retry* (the same event
id again, so a receiver that already has it ignores it). *Send test event* queues a
``webhook.test`` event to that endpoint alone. The signing secret (``whsec_…``) is shown
once, when the endpoint is made; it is stored encrypted. Another agency's endpoints and
deliveries answer 404. Every change is audited, without the secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select, update
from sqlmodel import Session

from gaung.db import get_session, utcnow
from gaung.errors import N_, GaungError, NotFoundError
from gaung.i18n import gettext as _
from kernel import audit, webhooks
from kernel.webhooks import (
    EVENT_LABELS,
    TEST_EVENT,
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from roster.models import Role, User
from web.deps import render, require_role, verify_csrf

router = APIRouter(prefix="/console/webhooks", include_in_schema=False)
admin = require_role(Role.ADMIN)
LOG_LIMIT = 100
_delivery = WebhookDelivery.__table__  # type: ignore[attr-defined]
_event = WebhookEvent.__table__  # type: ignore[attr-defined]
_endpoint = WebhookEndpoint.__table__  # type: ignore[attr-defined]


def status_labels() -> dict[str, str]:
    return {
        DeliveryStatus.QUEUED: _("Queued"),
        DeliveryStatus.SENDING: _("Sending"),
        DeliveryStatus.DELIVERED: _("Delivered"),
        DeliveryStatus.FAILED: _("Failed"),
    }


def event_labels() -> dict[str, str]:
    return {event: _(label) for event, label in EVENT_LABELS.items()}


# --- reads ------------------------------------------------------------------------------


def endpoints(session: Session, user: User) -> list[tuple[WebhookEndpoint, int]]:
    """The agency's endpoints, oldest first, each with its count of failed deliveries."""
    failed = (
        select(_delivery.c.endpoint_id, func.count().label("failed"))
        .where(_delivery.c.status == DeliveryStatus.FAILED)
        .group_by(_delivery.c.endpoint_id)
        .subquery()
    )
    rows = session.execute(
        select(WebhookEndpoint, func.coalesce(failed.c.failed, 0))
        .outerjoin(failed, failed.c.endpoint_id == _endpoint.c.id)
        .where(_endpoint.c.agency_id == user.agency_id)
        .order_by(_endpoint.c.id)
    ).all()
    return [(endpoint, int(count)) for endpoint, count in rows]


def get_endpoint(session: Session, user: User, endpoint_id: int) -> WebhookEndpoint:
    """One of the user's agency's endpoints; anyone else's answers 404 like a missing one."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.agency_id != user.agency_id:
        raise NotFoundError(N_("Endpoint not found."))
    return endpoint


def delivery_log(session: Session, endpoint_id: int) -> list[Any]:
    """The endpoint's latest deliveries, newest first, with their event's type."""
    query = (
        select(*_delivery.c, _event.c.type.label("event_type"))
        .join(_event, _event.c.id == _delivery.c.event_id)
        .where(_delivery.c.endpoint_id == endpoint_id)
        .order_by(_delivery.c.id.desc())
        .limit(LOG_LIMIT)
    )
    return list(session.connection().execute(query))


# --- actions ----------------------------------------------------------------------------


def _audit(session: Session, user: User, action: str, endpoint_id: int | None, detail: str) -> None:
    audit.record(
        session,
        actor=user,
        action=action,
        entity="webhook_endpoint",
        entity_id=endpoint_id,
        agency_id=user.agency_id,
        detail=detail,
    )


def retry(session: Session, user: User, endpoint: WebhookEndpoint, delivery_id: int) -> None:
    """Queue a failed delivery again, same event id; a delivery of another endpoint: 404."""
    changed = session.connection().execute(
        update(_delivery)
        .where(
            _delivery.c.id == delivery_id,
            _delivery.c.endpoint_id == endpoint.id,
            _delivery.c.status == DeliveryStatus.FAILED,
        )
        .values(
            status=DeliveryStatus.QUEUED,
            attempts=0,
            run_at=utcnow(),
            retryable=False,
            worker=None,
            lease_until=None,
        )
    )
    if changed.rowcount != 1:
        exists = session.get(WebhookDelivery, delivery_id)
        if exists is None or exists.endpoint_id != endpoint.id:
            raise NotFoundError(N_("Delivery not found."))
        raise GaungError(N_("Only a failed delivery can be retried."))
    _audit(session, user, "webhook.delivery_retried", endpoint.id, f"delivery {delivery_id}")
    session.commit()


def send_test(session: Session, user: User, endpoint: WebhookEndpoint) -> str:
    """Queue a ``webhook.test`` event to this endpoint only; its event id. Commits."""
    assert endpoint.id is not None
    data = {"endpoint_id": endpoint.id, "message": "Test event from Gaung"}
    [event_id] = webhooks.emit_many(
        session, endpoint.agency_id, TEST_EVENT, [data], endpoint_ids=[endpoint.id]
    )
    _audit(session, user, "webhook.test_sent", endpoint.id, event_id)
    session.commit()
    return event_id


# --- pages ------------------------------------------------------------------------------


def _form_values(form: Any) -> dict[str, Any]:
    return {
        "url": str(form.get("url") or ""),
        "description": str(form.get("description") or ""),
        "events": [str(e) for e in form.getlist("events")],
    }


def _list_page(
    request: Request,
    session: Session,
    user: User,
    *,
    form: dict[str, Any] | None = None,
    error: GaungError | None = None,
) -> Response:
    context = {
        "endpoints": endpoints(session, user),
        "event_types": list(EventType),
        "event_labels": event_labels(),
        "form": form or {"url": "", "description": "", "events": list(EventType)},
        "errors": {error.field or "": error.render(_)} if error else {},
        "flash": request.session.pop("flash", None),
    }
    return render(request, "console/webhooks.html", context, status_code=400 if error else 200)


def _endpoint_page(
    request: Request,
    session: Session,
    endpoint: WebhookEndpoint,
    *,
    secret: str | None = None,
    form: dict[str, Any] | None = None,
    error: GaungError | None = None,
) -> Response:
    assert endpoint.id is not None
    values = form or {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.event_list(),
        "active": endpoint.active,
    }
    context = {
        "endpoint": endpoint,
        "secret": secret,
        "form": values,
        "errors": {error.field or "": error.render(_)} if error else {},
        "event_types": list(EventType),
        "event_labels": event_labels(),
        "statuses": status_labels(),
        "log": delivery_log(session, endpoint.id),
        "limit": LOG_LIMIT,
        "flash": request.session.pop("flash", None),
    }
    return render(request, "console/webhook.html", context, status_code=400 if error else 200)


@router.get("")
def webhooks_page(
    request: Request, user: User = Depends(admin), session: Session = Depends(get_session)
) -> Response:
    return _list_page(request, session, user)


@router.post("")
async def create(
    request: Request,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    values = _form_values(await request.form())
    try:
        endpoint, secret = webhooks.create_endpoint(session, user.agency_id, **values)
    except GaungError as exc:
        session.rollback()
        return _list_page(request, session, user, form=values, error=exc)
    _audit(session, user, "webhook.created", endpoint.id, f"{endpoint.url} [{endpoint.events}]")
    session.commit()
    # The only time the secret is shown: rendered here, never stored in the session cookie.
    return _endpoint_page(request, session, endpoint, secret=secret)


@router.get("/{endpoint_id}")
def endpoint_page(
    request: Request,
    endpoint_id: int,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
) -> Response:
    return _endpoint_page(request, session, get_endpoint(session, user, endpoint_id))


@router.post("/{endpoint_id}")
async def update_endpoint(
    request: Request,
    endpoint_id: int,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    endpoint = get_endpoint(session, user, endpoint_id)
    form = await request.form()
    values = _form_values(form) | {"active": form.get("active") == "on"}
    try:
        webhooks.update_endpoint(session, endpoint, **values)
    except GaungError as exc:
        session.rollback()
        endpoint = get_endpoint(session, user, endpoint_id)
        return _endpoint_page(request, session, endpoint, form=values, error=exc)
    state = "on" if endpoint.active else "off"
    _audit(
        session, user, "webhook.updated", endpoint.id, f"{endpoint.url} [{endpoint.events}] {state}"
    )
    session.commit()
    request.session["flash"] = _("The endpoint is saved.")
    return RedirectResponse(f"/console/webhooks/{endpoint_id}", status_code=303)


@router.post("/{endpoint_id}/test")
def send_test_event(
    request: Request,
    endpoint_id: int,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    endpoint = get_endpoint(session, user, endpoint_id)
    if not endpoint.active:
        request.session["flash"] = _("Switch the endpoint on first.")
    else:
        event_id = send_test(session, user, endpoint)
        request.session["flash"] = _("A test event (%(id)s) is queued.") % {"id": event_id}
    return RedirectResponse(f"/console/webhooks/{endpoint_id}", status_code=303)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/retry")
def retry_delivery(
    request: Request,
    endpoint_id: int,
    delivery_id: int,
    user: User = Depends(admin),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    endpoint = get_endpoint(session, user, endpoint_id)
    try:
        retry(session, user, endpoint, delivery_id)
        note = _("The delivery is queued again, with the same event id.")
    except NotFoundError:
        raise
    except GaungError as exc:
        session.rollback()
        note = exc.render(_)
    request.session["flash"] = note
    return RedirectResponse(f"/console/webhooks/{endpoint_id}", status_code=303)
