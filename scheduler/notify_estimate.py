"""Before approval: how long until every ASN a post would go to is notified, per messenger.

Messenger limits decide how fast news reaches the ASN (``rate_limits``: e-mail 10/s,
Telegram 30/s per bot, WhatsApp 20/s), so the approver sees, for a post not sent yet:

- per messenger, the recipients it would go to: the ASN eligible on any of the post's
  platforms (``roster.eligibility.eligible_asn_ids``, the dispatcher's rules), each on Web
  Push where they subscribed a device (``scheduler.push`` routes their notice there),
  otherwise on their own messenger;
- the rate (messages per second: ``rate_limits``; Web Push: ``webpush.estimated_rate``, what
  one worker gets accepted, see bench/push.py);
- the backlog ahead of it: messages of that messenger still queued or being sent. Urgent
  notices (a hoax clarification, or a post marked urgent) are claimed before every normal
  one (``scheduler.deliver``), so only urgent ones are ahead of them and the estimate
  says how many normal ones it jumps;
- the estimated time until the last recipient is notified: (backlog + recipients) / rate;
- the cost where a channel charges per message: WhatsApp, ``whatsapp.prices`` for the
  notice's category, in Rupiah.

Who gets nothing now is counted apart: digest readers (a routine post reaches them in the
daily digest) and people with no address on their messenger (their notice fails).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, case, exists, func, literal, null, or_, select
from sqlmodel import Session

from channels import webpush
from content.models import Campaign, CampaignKind, CampaignUnit, Post, PostStatus
from gaung.db import utcnow
from gaung.settings import get_settings
from kernel import ratelimit
from kernel.outbox import PERSON_MESSENGERS, OutboxMessage, OutboxStatus
from roster.eligibility import eligible_asn_ids
from roster.models import Asn

_asn = Asn.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_subscription = webpush.PushSubscription.__table__  # type: ignore[attr-defined]
# Posts that have not gone out yet: what an estimate is for.
ESTIMATED = (PostStatus.DRAFT, PostStatus.SUBMITTED, PostStatus.APPROVED, PostStatus.REJECTED)
WAITING = (OutboxStatus.QUEUED, OutboxStatus.SENDING)
CURRENCY = "IDR"


@dataclass(frozen=True)
class MessengerEstimate:
    messenger: str
    recipients: int
    rate: float  # messages per second
    backlog: int  # queued messages that go before these
    skipped: int  # queued normal messages these jump (urgent posts only)
    seconds: float  # until the last of them is notified
    price: float | None  # per message, where the channel charges (Rupiah)
    cost: float | None  # recipients x price


@dataclass(frozen=True)
class PostEstimate:
    post_id: int
    urgent: bool
    # When dispatch runs: at approval for urgent or unscheduled posts, else its time.
    starts_at: datetime | None
    messengers: list[MessengerEstimate] = field(default_factory=list)
    digest: int = 0  # routine post: these readers get it in the daily digest instead
    no_address: int = 0  # no address on their messenger: their notice would fail
    currency: str = CURRENCY

    @property
    def recipients(self) -> int:
        return sum(m.recipients for m in self.messengers)

    @property
    def seconds(self) -> float:
        """Until the last recipient of every messenger is notified (they send in parallel)."""
        return max((m.seconds for m in self.messengers), default=0.0)

    @property
    def cost(self) -> float | None:
        costs = [m.cost for m in self.messengers if m.cost is not None]
        return sum(costs) if costs else None

    @property
    def skipped(self) -> int:
        return sum(m.skipped for m in self.messengers)


def is_urgent(post: Post, campaign: Campaign) -> bool:
    """As dispatch decides a notice's priority (scheduler.outbox)."""
    return bool(post.urgent or campaign.kind == CampaignKind.HOAX_CLARIFICATION)


def rate_of(messenger: str) -> float:
    if messenger == webpush.SLUG:
        return float(get_settings().webpush.estimated_rate)
    return ratelimit.rate_for(messenger)


def price_of(messenger: str) -> float | None:
    """Rupiah per message where the channel charges per message (WhatsApp), else None."""
    if messenger != "whatsapp":
        return None
    settings = get_settings().whatsapp
    return settings.prices.get(settings.notice_category)


def backlogs(session: Session, messengers: Sequence[str]) -> dict[str, tuple[int, int]]:
    """messenger -> (urgent, normal) messages queued or being sent now, in one query."""
    if not messengers:
        return {}
    urgent = _outbox.c.priority > 0
    rows = session.connection().execute(
        select(
            _outbox.c.messenger,
            func.sum(case((urgent, 1), else_=0)),
            func.sum(case((urgent, 0), else_=1)),
        )
        .where(
            _outbox.c.status.in_([str(s) for s in WAITING]),
            _outbox.c.messenger.in_(list(messengers)),
        )
        .group_by(_outbox.c.messenger)
    )
    return {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in rows}


def estimate(session: Session, post: Post, campaign: Campaign) -> PostEstimate:
    """The estimate for ``post`` as if it were dispatched now (see the module doc)."""
    assert post.id is not None
    assert campaign.id is not None
    urgent = is_urgent(post, campaign)
    unit_ids = list(
        session.connection().scalars(
            select(CampaignUnit.unit_id).where(  # type: ignore[call-overload]
                CampaignUnit.campaign_id == campaign.id
            )
        )
    )
    eligible = eligible_asn_ids(
        session,
        agency_id=campaign.agency_id,
        unit_ids=unit_ids,
        platforms=post.platform_list(),
    ).subquery("eligible")
    subscribed = exists().where(_subscription.c.asn_id == _asn.c.id)
    address = case(
        *((_asn.c.messenger == m, _asn.c[p.address_field]) for m, p in PERSON_MESSENGERS.items()),
        else_=null(),
    )
    reached = or_(subscribed, address.is_not(None))
    channel = case((subscribed, literal(webpush.SLUG)), else_=_asn.c.messenger)
    digest = and_(literal(not urgent), _asn.c.digest.is_(True))
    group = case((digest, literal("digest")), (~reached, literal("")), else_=channel)
    rows = (
        session.connection()
        .execute(
            select(group.label("channel"), func.count())
            .select_from(_asn.join(eligible, eligible.c.asn_id == _asn.c.id))
            .group_by(group)
        )
        .all()
    )
    counts = {str(name): int(n) for name, n in rows}
    digest_count = counts.pop("digest", 0)
    no_address = counts.pop("", 0)
    queued = backlogs(session, sorted(counts))
    messengers = []
    for messenger in sorted(counts, key=lambda m: (-counts[m], m)):
        recipients = counts[messenger]
        rate = rate_of(messenger)
        urgent_ahead, normal_ahead = queued.get(messenger, (0, 0))
        ahead = urgent_ahead if urgent else urgent_ahead + normal_ahead
        price = price_of(messenger)
        messengers.append(
            MessengerEstimate(
                messenger=messenger,
                recipients=recipients,
                rate=rate,
                backlog=ahead,
                skipped=normal_ahead if urgent else 0,
                seconds=(ahead + recipients) / rate,
                price=price,
                cost=recipients * price if price is not None else None,
            )
        )
    return PostEstimate(
        post_id=post.id,
        urgent=urgent,
        starts_at=starts_at(post, urgent),
        messengers=messengers,
        digest=digest_count,
        no_address=no_address,
    )


def starts_at(post: Post, urgent: bool) -> datetime | None:
    """When dispatch would run if approved now (None: as soon as it is approved)."""
    if urgent or post.scheduled_at is None:
        return None
    scheduled = post.scheduled_at
    if scheduled.tzinfo is None:
        scheduled = scheduled.replace(tzinfo=UTC)
    return scheduled if scheduled > utcnow() else None
