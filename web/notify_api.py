"""The JSON API's time to notify: the estimate before approval and the measured times after.

- ``GET /api/posts/{id}/estimate``: for a post not sent yet, per messenger the recipients,
  rate, backlog ahead, estimated seconds until the last is notified and the WhatsApp cost
  (scheduler.notify_estimate); a post already sent or withdrawn answers 409.
- ``GET /api/posts/{id}/notify-times``: from approval (or dispatch of a scheduled post) to
  the last message accepted, to 50% and 90% accepted, failed and unknown apart
  (assignments.notify_times).

Same authentication, roles and answers as web.api (another agency's post 404).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel import Session

from assignments.notify_times import NotifyTimes, notify_times
from content import workflow
from content.models import PostStatus
from gaung.db import get_session
from gaung.errors import N_, GaungError
from roster.models import Role, User
from scheduler import notify_estimate
from scheduler.notify_estimate import PostEstimate
from web.api import ERRORS, PostId, ServiceErrors
from web.api_auth import api_role

router = APIRouter(prefix="/api", tags=["api"], route_class=ServiceErrors)
staff = api_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
CONFLICT: dict[int | str, dict[str, object]] = {
    **ERRORS,
    409: {"description": "The post was sent or withdrawn: see its notify times"},
}


class MessengerEstimateOut(BaseModel):
    messenger: str = Field(description="webpush: devices with notifications on, tried first")
    recipients: int
    rate_per_second: float = Field(description="rate_limits; Web Push: webpush.estimated_rate")
    backlog: int = Field(description="Messages queued ahead of these on the messenger")
    jumps: int = Field(description="Normal messages queued that an urgent post goes before")
    seconds_to_last: float = Field(description="(backlog + recipients) / rate")
    price_per_message: float | None = Field(description="Where the channel charges (WhatsApp)")
    cost: float | None


class EstimateOut(BaseModel):
    post_id: int
    urgent: bool = Field(description="Urgent notices go before every normal one queued")
    dispatch_at: datetime | None = Field(
        description="When the post goes out once approved; null: at approval"
    )
    recipients: int
    seconds_to_last: float = Field(description="Until the last recipient of all is notified")
    cost: float | None
    currency: str
    digest_readers: int = Field(description="A routine post reaches them in the daily digest")
    no_address: int = Field(description="No address on their messenger: the notice would fail")
    messengers: list[MessengerEstimateOut]


class MessengerTimesOut(BaseModel):
    messenger: str
    messages: int
    accepted: int
    failed: int
    unknown: int = Field(description="Outcome unknown (the worker died mid-send): not resent")
    waiting: int
    seconds_to_last: float | None


class NotifyTimesOut(BaseModel):
    post_id: int
    started_at: datetime | None = Field(
        description="Approval, or dispatch when the post waited for its scheduled time"
    )
    messages: int = Field(description="The post's notices (a resent one once)")
    accepted: int = Field(description="Accepted by the provider")
    failed: int
    unknown: int = Field(description="Outcome unknown: never counted as notified")
    waiting: int = Field(description="Still queued or being sent")
    cancelled: int
    done: bool = Field(description="Nothing is waiting any more")
    seconds_to_last: float | None = Field(description="To the last message accepted so far")
    seconds_to_50: float | None = Field(description="Until half the messages were accepted")
    seconds_to_90: float | None = Field(description="Until 90% were accepted; null: not yet")
    messengers: list[MessengerTimesOut]


def estimate_out(found: PostEstimate) -> EstimateOut:
    return EstimateOut(
        post_id=found.post_id,
        urgent=found.urgent,
        dispatch_at=found.starts_at,
        recipients=found.recipients,
        seconds_to_last=round(found.seconds, 3),
        cost=found.cost,
        currency=found.currency,
        digest_readers=found.digest,
        no_address=found.no_address,
        messengers=[
            MessengerEstimateOut(
                messenger=m.messenger,
                recipients=m.recipients,
                rate_per_second=m.rate,
                backlog=m.backlog,
                jumps=m.skipped,
                seconds_to_last=round(m.seconds, 3),
                price_per_message=m.price,
                cost=m.cost,
            )
            for m in found.messengers
        ],
    )


def times_out(times: NotifyTimes) -> NotifyTimesOut:
    return NotifyTimesOut(
        post_id=times.post_id,
        started_at=times.started_at,
        messages=times.messages,
        accepted=times.accepted,
        failed=times.failed,
        unknown=times.unknown,
        waiting=times.waiting,
        cancelled=times.cancelled,
        done=times.done,
        seconds_to_last=times.last_seconds,
        seconds_to_50=times.p50,
        seconds_to_90=times.p90,
        messengers=[
            MessengerTimesOut(
                messenger=m.messenger,
                messages=m.messages,
                accepted=m.accepted,
                failed=m.failed,
                unknown=m.unknown,
                waiting=m.waiting,
                seconds_to_last=m.last_seconds,
            )
            for m in times.messengers
        ],
    )


@router.get("/posts/{post_id}/estimate", response_model=EstimateOut, responses=CONFLICT)
def post_estimate(
    post_id: PostId, user: User = Depends(staff), session: Session = Depends(get_session)
) -> EstimateOut:
    """How long until everyone the post would go to is notified, per messenger, if it were
    approved now; and what WhatsApp would charge."""
    post = workflow.get_post(session, user, post_id)
    if post.status not in notify_estimate.ESTIMATED:
        raise GaungError(N_("The post was sent or withdrawn; see its time to notify instead."))
    campaign = workflow.get_campaign(session, user, post.campaign_id)
    return estimate_out(notify_estimate.estimate(session, post, campaign))


@router.get("/posts/{post_id}/notify-times", response_model=NotifyTimesOut, responses=ERRORS)
def post_notify_times(
    post_id: PostId, user: User = Depends(staff), session: Session = Depends(get_session)
) -> NotifyTimesOut:
    """Measured from approval (or dispatch of a scheduled post) to the messages accepted."""
    post = workflow.get_post(session, user, post_id)
    if post.status != PostStatus.DISPATCHED and post.dispatched_at is None:
        return times_out(NotifyTimes(post_id=post_id, started_at=None))
    return times_out(notify_times(session.connection(), post))
