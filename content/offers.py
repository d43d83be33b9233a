"""Cross-agency campaigns: a coordinator offers a campaign to its network's agencies.

The coordinator's approver offers a campaign to every member of the network the instance
operator set up (roster.networks). Each member's approver then accepts it, optionally for
some of its units only and with an earlier deadline of its own, or declines it with a note.

Accepting makes the member its own **copy** of the campaign (``Campaign.source_campaign_id``)
holding copies of the coordinator's approved posts (``Post.source_post_id``), approved by the
accepting approver and queued to go out with the coordinator's post (at once if it is already
out). From there everything is the member's own: its ASN, its dashboard, its reminders, its
exports; so each agency sees only its own people, and the coordinator sees per-agency and
national totals (assignments.network_reach), never another agency's individuals. Posts the
coordinator approves later are copied into every accepted copy in the approving transaction
(``copy_approved``); a withdrawal or an official-link correction by the coordinator reaches
every copy (content.workflow).

Functions that change something check the actor first, validate everything, then change,
audit and commit, like content.workflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from content import variants as post_variants
from content.checks import (
    aware,
    check_units,
    not_past,
    require_role,
    text,
    validate_for_platforms,
)
from content.models import (
    Campaign,
    CampaignOffer,
    CampaignUnit,
    OfferStatus,
    Post,
    PostStatus,
    PostVariant,
)
from content.rendering import RenditionError
from content.schedule import dispatch_key, schedule_dispatch
from gaung.db import utcnow
from gaung.errors import N_, GaungError, NotFoundError
from kernel import audit
from kernel.models import WorkItem
from roster import networks
from roster.models import Agency, Role, Unit, User

REVIEWERS = frozenset({Role.APPROVER, Role.ADMIN})
NOTE_MAX = 2000
# The coordinator's posts that are copied: approved (waiting for their time) or out.
COPIED = (PostStatus.APPROVED, PostStatus.DISPATCHED)


@dataclass(frozen=True)
class OfferView:
    """One offer as the console lists it."""

    offer: CampaignOffer
    campaign: Campaign  # the coordinator's
    coordinator: Agency
    agency: Agency  # the member it is offered to
    copy: Campaign | None  # the member's copy once accepted
    copy_units: list[str]  # names of the units it was narrowed to ([] = the whole agency)
    posts: int  # the coordinator's posts that go out with it (approved or out)


# --- the coordinator ------------------------------------------------------------------------


def offer(session: Session, actor: User, campaign: Campaign) -> list[CampaignOffer]:
    """Offer the campaign to every member of the actor's network that has no offer of it
    yet; returns the new offers (audited; commits)."""
    require_role(actor, REVIEWERS)
    if campaign.agency_id != actor.agency_id:
        raise NotFoundError(N_("Campaign not found."))
    if campaign.source_campaign_id is not None:
        message = N_("This campaign came from another agency's offer; it cannot be offered on.")
        raise GaungError(message)
    network = networks.of_coordinator(session, actor.agency_id)
    if network is None:
        message = N_("Your agency coordinates no network; the instance operator sets them up.")
        raise GaungError(message)
    if aware(campaign.deadline) <= utcnow():
        raise GaungError(N_("The campaign's deadline has passed."), field="deadline")
    offered = set(
        session.exec(
            select(col(CampaignOffer.agency_id)).where(CampaignOffer.campaign_id == campaign.id)
        ).all()
    )
    everyone = networks.member_ids(session, network.id or 0)
    if not everyone:
        raise GaungError(N_("The network %(network)s has no members yet."), network=network.name)
    members = [agency_id for agency_id in everyone if agency_id not in offered]
    new = [
        CampaignOffer(
            campaign_id=campaign.id or 0,
            agency_id=agency_id,
            network_id=network.id or 0,
            offered_by=actor.id,
        )
        for agency_id in members
    ]
    session.add_all(new)
    session.flush()
    for item in new:
        _audit(session, actor, "campaign.offered", item, campaign.agency_id)
    session.commit()
    return new


def offers_of(session: Session, campaign_id: int) -> list[OfferView]:
    """The campaign's offers and answers, for its coordinator (by agency name)."""
    query = select(CampaignOffer).where(CampaignOffer.campaign_id == campaign_id)
    return _views(session, list(session.exec(query).all()))


def copy_ids(session: Session, campaign_id: int) -> list[int]:
    """The accepted copies of a coordinator's campaign."""
    query = select(col(CampaignOffer.copy_id)).where(
        CampaignOffer.campaign_id == campaign_id, col(CampaignOffer.copy_id).is_not(None)
    )
    return [int(c) for c in session.exec(query).all() if c is not None]


# --- a member -------------------------------------------------------------------------------


def incoming(session: Session, user: User) -> list[OfferView]:
    """The offers made to the user's agency, open ones first, then newest first."""
    query = select(CampaignOffer).where(CampaignOffer.agency_id == user.agency_id)
    views = _views(session, list(session.exec(query).all()))
    views.sort(key=lambda v: v.offer.offered_at, reverse=True)
    views.sort(key=lambda v: v.offer.status != OfferStatus.OFFERED)  # stable: open ones first
    return views


def open_count(session: Session, agency_id: int) -> int:
    query = select(func.count()).where(
        CampaignOffer.agency_id == agency_id, CampaignOffer.status == OfferStatus.OFFERED
    )
    return int(session.exec(query).one())


def incoming_view(session: Session, user: User, offer_id: int) -> OfferView:
    """One offer made to the user's agency, as the console shows it (404 for any other)."""
    return _views(session, [get_incoming(session, user, offer_id)])[0]


def get_incoming(session: Session, user: User, offer_id: int) -> CampaignOffer:
    item = session.get(CampaignOffer, offer_id)
    if item is None or item.agency_id != user.agency_id:
        raise NotFoundError(N_("Offer not found."))
    return item


def accept(
    session: Session,
    actor: User,
    offer_id: int,
    *,
    unit_ids: Sequence[int] = (),
    deadline: datetime | None = None,
) -> Campaign:
    """Accept an offer for the actor's agency: its copy of the campaign, for ``unit_ids``
    (none: the whole agency) until ``deadline`` (None: the coordinator's). Commits."""
    require_role(actor, REVIEWERS)
    item = _open_offer(session, actor, offer_id)
    source = session.get_one(Campaign, item.campaign_id)
    if aware(source.deadline) <= utcnow():
        raise GaungError(N_("The campaign's deadline has passed."), field="deadline")
    units = check_units(session, actor, unit_ids)
    own_deadline = _deadline(source, deadline)
    copy = Campaign(
        agency_id=actor.agency_id,
        title=source.title,
        kind=source.kind,
        starts_at=source.starts_at,
        deadline=own_deadline,
        reminder_hours=source.reminder_hours,
        created_by=actor.id,
        source_campaign_id=source.id,
    )
    session.add(copy)
    session.flush()
    session.add_all(CampaignUnit(campaign_id=copy.id or 0, unit_id=u) for u in units)
    posts = session.exec(
        select(Post)
        .where(Post.campaign_id == source.id, col(Post.status).in_(COPIED))
        .order_by(col(Post.id))
    ).all()
    for post in posts:
        texts = post_variants.load(session, post.id)
        _copy_post(session, post, copy, actor, texts, _run_at(session, post))
    item.status, item.copy_id = OfferStatus.ACCEPTED, copy.id
    item.decided_by, item.decided_at = actor.id, utcnow()
    session.add(item)
    detail = f"units {','.join(map(str, units)) or 'all'}; deadline {own_deadline.isoformat()}"
    _audit(session, actor, "offer.accepted", item, actor.agency_id, detail)
    _audit(session, actor, "offer.accepted", item, source.agency_id, detail)
    session.commit()
    return copy


def decline(session: Session, actor: User, offer_id: int, note: str) -> CampaignOffer:
    """Decline an offer with a note the coordinator reads (required). Commits."""
    require_role(actor, REVIEWERS)
    note = text(note, "note")
    if not note:
        raise GaungError(N_("Say in a note why your agency declines."), field="note")
    if len(note) > NOTE_MAX:
        raise GaungError(
            N_("The note is %(actual)s characters; the limit is %(limit)s."),
            field="note",
            actual=len(note),
            limit=NOTE_MAX,
        )
    item = _open_offer(session, actor, offer_id)
    source = session.get_one(Campaign, item.campaign_id)
    item.status, item.note = OfferStatus.DECLINED, note
    item.decided_by, item.decided_at = actor.id, utcnow()
    session.add(item)
    _audit(session, actor, "offer.declined", item, actor.agency_id, note)
    _audit(session, actor, "offer.declined", item, source.agency_id, note)
    session.commit()
    return item


# --- called by content.workflow, in its transaction -----------------------------------------


def copy_approved(session: Session, post: Post, actor: User) -> list[Post]:
    """The coordinator approved ``post``: copy it into every accepted copy of its campaign
    whose deadline is still ahead. No commit."""
    query = select(Campaign).where(
        col(Campaign.id).in_(copy_ids(session, post.campaign_id)), Campaign.deadline > utcnow()
    )
    made = []
    texts, run_at = post_variants.load(session, post.id), _run_at(session, post)
    for copy in session.exec(query).all():
        try:
            with session.begin_nested():  # one member's copy failing leaves the others
                made.append(_copy_post(session, post, copy, actor, texts, run_at))
        except RenditionError as exc:
            # The member's own disclosure tag makes a text too long: the coordinator's
            # approval stands; the member learns why in its audit log.
            audit.record(
                session,
                actor=actor,
                action="offer.post_not_copied",
                entity="campaign",
                entity_id=copy.id,
                agency_id=copy.agency_id,
                detail=f"post {post.id}: {exc.render(lambda m: m)}",
            )
    return made


def copies_of(session: Session, post_id: int, statuses: Iterable[str] = COPIED) -> list[Post]:
    """The members' copies of a coordinator's post, in the given statuses."""
    query = select(Post).where(Post.source_post_id == post_id, col(Post.status).in_(list(statuses)))
    return list(session.exec(query).all())


# --- helpers --------------------------------------------------------------------------------


def _open_offer(session: Session, actor: User, offer_id: int) -> CampaignOffer:
    item = get_incoming(session, actor, offer_id)
    session.refresh(item, with_for_update=True)  # two approvers answering at once: one wins
    if item.status != OfferStatus.OFFERED:
        raise GaungError(N_("This offer was already answered."))
    return item


def _deadline(source: Campaign, deadline: datetime | None) -> datetime:
    if deadline is None:
        return aware(source.deadline)
    deadline = not_past(deadline, "deadline")
    if deadline > aware(source.deadline):
        raise GaungError(
            N_("Your deadline must not be later than the coordinator's."), field="deadline"
        )
    if deadline <= aware(source.starts_at):
        raise GaungError(N_("The deadline must be after the start."), field="deadline")
    return deadline


def _copy_post(
    session: Session,
    post: Post,
    copy: Campaign,
    approver: User,
    texts: dict[str, dict[int, str]],
    run_at: datetime,
) -> Post:
    """The member's copy of an approved post (with the post's own ``texts``), approved and
    queued for ``run_at``, when the coordinator's goes out."""
    now = utcnow()
    twin = Post(
        campaign_id=copy.id or 0,
        author_id=post.author_id,
        master_text=post.master_text,
        link=post.link,
        image_path=post.image_path,
        hashtags=post.hashtags,
        platforms=post.platforms,
        official_url_x=post.official_url_x,
        official_url_facebook=post.official_url_facebook,
        official_url_instagram=post.official_url_instagram,
        status=PostStatus.APPROVED,
        urgent=post.urgent,
        scheduled_at=post.scheduled_at,
        approver_id=approver.id,
        reviewed_at=now,
        source_post_id=post.id,
    )
    session.add(twin)
    session.flush()
    session.add_all(
        PostVariant(post_id=twin.id or 0, platform=platform, position=position, text=body)
        for platform, own in texts.items()
        for position, body in own.items()
    )
    session.flush()
    # The member's disclosure tag may be longer: a text that no longer fits stops here.
    validate_for_platforms(session, twin, copy)
    schedule_dispatch(session, twin, run_at)
    audit.record(
        session,
        actor=approver,
        action="post.approved",
        entity="post",
        entity_id=twin.id,
        agency_id=copy.agency_id,
        detail=f"copy of post {post.id} offered by the network's coordinator",
    )
    return twin


def _run_at(session: Session, post: Post) -> datetime:
    """When the coordinator's post goes out (its queued dispatch), or now if it is out."""
    if post.status == PostStatus.APPROVED:
        query = select(WorkItem).where(WorkItem.key == dispatch_key(post.id or 0))
        item = session.exec(query).first()
        if item is not None:
            return aware(item.run_at)
    return utcnow()


def _views(session: Session, items: list[CampaignOffer]) -> list[OfferView]:
    """The offers with what the console shows of them: a few queries for all of them, not
    a few per offer (a coordinator's campaign is offered to dozens of agencies)."""
    agencies = {a.id: a for a in session.exec(select(Agency)).all()}
    campaign_ids = {item.campaign_id for item in items}
    copies = {item.copy_id for item in items if item.copy_id}
    campaigns = {
        c.id: c
        for c in session.exec(select(Campaign).where(col(Campaign.id).in_(campaign_ids | copies)))
    }
    posts = dict(
        session.exec(
            select(col(Post.campaign_id), func.count())
            .where(col(Post.campaign_id).in_(campaign_ids), col(Post.status).in_(COPIED))
            .group_by(col(Post.campaign_id))
        ).all()
    )
    units: dict[int, list[str]] = {}
    for campaign_id, name in session.exec(
        select(col(CampaignUnit.campaign_id), col(Unit.name))
        .join(Unit, col(CampaignUnit.unit_id) == col(Unit.id))
        .where(col(CampaignUnit.campaign_id).in_(copies))
        .order_by(col(Unit.name))
    ):
        units.setdefault(campaign_id, []).append(name)
    views = [
        OfferView(
            offer=item,
            campaign=campaigns[item.campaign_id],
            coordinator=agencies[campaigns[item.campaign_id].agency_id],
            agency=agencies[item.agency_id],
            copy=campaigns.get(item.copy_id) if item.copy_id else None,
            copy_units=units.get(item.copy_id or 0, []),
            posts=int(posts.get(item.campaign_id, 0)),
        )
        for item in items
    ]
    views.sort(key=lambda v: v.agency.name)
    return views


def _audit(
    session: Session,
    actor: User,
    action: str,
    item: CampaignOffer,
    agency_id: int,
    detail: str = "",
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="campaign_offer",
        entity_id=item.id,
        agency_id=agency_id,
        detail=detail or f"campaign {item.campaign_id} to agency {item.agency_id}",
    )
