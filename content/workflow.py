"""Campaign and post services: drafting, submission, approval, rejection, dispatch and withdrawal.

Rules every function here follows:

* It takes the acting ``User`` and checks the role first (``ForbiddenError``), then the
  agency: another agency's campaign or post is reported exactly like a missing one
  (``NotFoundError``), so ids reveal nothing across tenants.
* Roles: "editor" drafts, edits and submits; "approver" approves, rejects, dispatches
  now and withdraws; "admin" may do all of it; "supervisor" only reads. Nobody approves or rejects a
  post they wrote or edited (four eyes), not even an admin.
* Transactions: a function that changes something validates everything before touching
  a row, then applies the change, adds its audit row and the work it queues, and
  **commits** before returning, so the web layer and the CLI just call it. On an error it
  raises before any change, so there is nothing half-done to roll back. Read functions
  (``get_*``, ``list_*``) never commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from content import offers, recurrence
from content import variants as post_variants
from content.checks import aware as _aware
from content.checks import check_units as _check_units
from content.checks import not_past as _not_past
from content.checks import require_role as _require_role
from content.checks import text as _text
from content.checks import validate_for_platforms as _validate_for_platforms
from content.models import Campaign, CampaignKind, CampaignUnit, Post, PostStatus, PostVariant
from content.reminder_hours import normalise_hours
from content.rendering import RenditionError, check_link
from content.schedule import cancel_dispatch, dispatch_key, schedule_dispatch
from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from gaung.post_links import check_official_url
from kernel import audit, queue, webhooks
from kernel.audit import AuditLog
from kernel.limits import LIMITS
from kernel.webhooks import EventType
from roster.models import Role, User

WRITERS = frozenset({Role.EDITOR, Role.ADMIN})
REVIEWERS = frozenset({Role.APPROVER, Role.ADMIN})
TITLE_MAX = 200
TEXT_MAX = 5000
NOTE_MAX = 2000
HASHTAGS_MAX = 500
LINK_MAX = 2000
OFFICIAL_URL_MAX = 500
_HASHTAG_NAME = re.compile(r"^\w+$")
# Statuses a post can be deleted in (never sent for review, or sent back by a reviewer).
DELETABLE = (PostStatus.DRAFT, PostStatus.REJECTED)

# Other records (assignments, messages, reach) point at it: a status check missed something.
_IN_USE = N_("Other records refer to this, so it cannot be deleted; withdraw it instead.")

# Called with (session, post_id) in the transaction that withdraws a dispatched post, e.g.
# to close its open assignments and tell the ASN (``wiring`` fills it; content cannot
# import the layers that own assignments and messages).
after_withdrawal: list[Callable[[Session, int], None]] = []
# Called with (session, post_id) when an approved post is withdrawn, in that transaction,
# after its queued dispatch is cancelled: a dispatch already under way stops and what it
# made so far is withdrawn (scheduler.dispatch.abandon; ``wiring`` fills it).
before_dispatched_withdrawal: list[Callable[[Session, int], None]] = []
# Run with (session, post_id, platforms) when an approved post's official links change, in
# the same transaction (e.g. verification forgets where it stopped on the old post). Filled
# by wiring.
after_official_urls_changed: list[Callable[[Session, int, list[str]], None]] = []
# Official links may still be corrected once a post is approved or out (a wrong link would
# otherwise stop its verification for good); the text itself may not.
CORRECTABLE = (PostStatus.APPROVED, PostStatus.DISPATCHED)


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET
"""Default of ``update_post`` arguments: leave that field as it is."""


# --- checks -----------------------------------------------------------------------------


def _campaign_of(session: Session, user: User, post: Post) -> Campaign:
    campaign = session.get(Campaign, post.campaign_id)
    if campaign is None or campaign.agency_id != user.agency_id:
        raise NotFoundError("Post not found.")
    return campaign


def _lock(session: Session, post: Post) -> None:
    """Re-read the post, locking its row on PostgreSQL, so two reviewers cannot race."""
    session.refresh(post, with_for_update=True)


def _has_shaped(session: Session, actor: User, post: Post) -> bool:
    """Whether the actor wrote or edited this post (from the author column and the audit log)."""
    if post.author_id == actor.id:
        return True
    edits = session.exec(
        select(func.count())
        .select_from(AuditLog)
        .where(
            AuditLog.entity == "post",
            AuditLog.entity_id == post.id,
            AuditLog.actor_id == actor.id,
            col(AuditLog.action).in_(("post.created", "post.updated")),
        )
    ).one()
    return edits > 0


def _require_other_reviewer(session: Session, actor: User, post: Post) -> None:
    if _has_shaped(session, actor, post):
        raise ForbiddenError("You wrote or edited this post, so someone else must review it.")


def get_variants(session: Session, user: User, post: Post) -> dict[str, dict[int, str]]:
    """The post's own texts per platform ({platform: {position: text}}; see PostVariant)."""
    _campaign_of(session, user, post)
    return post_variants.load(session, post.id)


# --- reads ------------------------------------------------------------------------------


def get_campaign(session: Session, user: User, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.agency_id != user.agency_id:
        raise NotFoundError("Campaign not found.")
    return campaign


def get_post(session: Session, user: User, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFoundError("Post not found.")
    _campaign_of(session, user, post)
    return post


def list_campaigns(session: Session, user: User) -> list[Campaign]:
    """The user's agency's campaigns, newest start first."""
    query = (
        select(Campaign)
        .where(Campaign.agency_id == user.agency_id)
        .order_by(col(Campaign.starts_at).desc(), col(Campaign.id).desc())
    )
    return list(session.exec(query).all())


def list_posts(
    session: Session, user: User, status: str | None = None, campaign_id: int | None = None
) -> list[Post]:
    """The user's agency's posts, newest first, optionally of one status or campaign."""
    query = (
        select(Post)
        .join(Campaign, col(Post.campaign_id) == col(Campaign.id))
        .where(Campaign.agency_id == user.agency_id)
    )
    if status is not None:
        query = query.where(Post.status == status)
    if campaign_id is not None:
        query = query.where(Post.campaign_id == campaign_id)
    return list(session.exec(query.order_by(col(Post.id).desc())).all())


# --- campaigns --------------------------------------------------------------------------


def _title(title: str) -> str:
    title = _text(title, "title")
    if not title:
        raise GaungError("The title is required.", field="title")
    if len(title) > TITLE_MAX:
        raise GaungError(
            "The title is %(actual)s characters; the limit is %(limit)s.",
            field="title",
            actual=len(title),
            limit=TITLE_MAX,
        )
    return title


def _kind(kind: str) -> str:
    if kind not in set(CampaignKind):
        raise GaungError("Unknown campaign kind: %(kind)s.", field="kind", kind=kind)
    return kind


def _period(
    starts_at: datetime, deadline: datetime, previous: Campaign | None = None
) -> tuple[datetime, datetime]:
    """Start and deadline, neither (newly) in the past, the deadline after the start."""
    starts_at = _not_past(starts_at, "starts_at", previous.starts_at if previous else None)
    deadline = _not_past(deadline, "deadline", previous.deadline if previous else None)
    if deadline <= starts_at:
        raise GaungError("The deadline must be after the start.", field="deadline")
    return starts_at, deadline


def create_campaign(
    session: Session,
    actor: User,
    *,
    title: str,
    kind: str,
    starts_at: datetime,
    deadline: datetime,
    unit_ids: Sequence[int] = (),
    reminder_hours: str | None = None,
) -> Campaign:
    """A campaign of the actor's agency; no units means the whole agency is targeted.

    ``reminder_hours`` ("24,3": hours before the deadline) is checked by
    scheduler.reminders; None or empty uses settings.reminders.default_hours.
    """
    _require_role(actor, WRITERS)
    title = _title(title)
    kind = _kind(kind)
    starts_at, deadline = _period(starts_at, deadline)
    units = _check_units(session, actor, unit_ids)
    reminders = normalise_hours(reminder_hours)
    campaign = Campaign(
        agency_id=actor.agency_id,
        title=title,
        kind=kind,
        starts_at=starts_at,
        deadline=deadline,
        reminder_hours=reminders,
        created_by=actor.id,
    )
    session.add(campaign)
    session.flush()
    assert campaign.id is not None
    session.add_all(CampaignUnit(campaign_id=campaign.id, unit_id=u) for u in units)
    _audit(session, actor, "campaign.created", "campaign", campaign.id, detail=title)
    session.commit()
    return campaign


def _post_statuses(session: Session, campaign: Campaign) -> set[str]:
    query = select(Post.status).where(Post.campaign_id == campaign.id).distinct()
    return set(session.exec(query).all())


def _fixed_fields(session: Session, campaign: Campaign) -> frozenset[str]:
    """Fields that may no longer change: everything but the title once a post went out
    (its assignments, reminders and expiry were made from them); the kind once a post is
    under review or approved (the reviewer saw the renditions of that kind)."""
    statuses = _post_statuses(session, campaign)
    if statuses & {PostStatus.DISPATCHED, PostStatus.WITHDRAWN}:
        return frozenset({"kind", "starts_at", "deadline", "unit_ids", "reminder_hours"})
    if statuses & {PostStatus.SUBMITTED, PostStatus.APPROVED}:
        return frozenset({"kind"})
    return frozenset()


def campaign_unit_ids(session: Session, campaign: Campaign) -> list[int]:
    query = select(CampaignUnit.unit_id).where(CampaignUnit.campaign_id == campaign.id)
    return sorted(session.exec(query).all())


def update_campaign(
    session: Session,
    actor: User,
    campaign: Campaign,
    *,
    title: str | _Unset = UNSET,
    kind: str | _Unset = UNSET,
    starts_at: datetime | _Unset = UNSET,
    deadline: datetime | _Unset = UNSET,
    unit_ids: Sequence[int] | _Unset = UNSET,
    reminder_hours: str | _Unset | None = UNSET,
) -> Campaign:
    """Edit a campaign (fields left UNSET stay). See ``_fixed_fields`` for what may change."""
    _require_role(actor, WRITERS)
    if campaign.agency_id != actor.agency_id:
        raise NotFoundError("Campaign not found.")
    session.refresh(campaign, with_for_update=True)
    fixed = _fixed_fields(session, campaign)
    old_units = campaign_unit_ids(session, campaign)
    new_title = campaign.title if isinstance(title, _Unset) else _title(title)
    new_kind = campaign.kind if isinstance(kind, _Unset) else _kind(kind)
    new_start, new_deadline = _period(
        campaign.starts_at if isinstance(starts_at, _Unset) else starts_at,
        campaign.deadline if isinstance(deadline, _Unset) else deadline,
        previous=campaign,
    )
    units = old_units if isinstance(unit_ids, _Unset) else _check_units(session, actor, unit_ids)
    reminders = (
        campaign.reminder_hours
        if isinstance(reminder_hours, _Unset)
        else normalise_hours(reminder_hours)
    )
    changed = {
        "kind": new_kind != campaign.kind,
        "starts_at": new_start != _aware(campaign.starts_at),
        "deadline": new_deadline != _aware(campaign.deadline),
        "unit_ids": units != old_units,
        "reminder_hours": reminders != campaign.reminder_hours,
    }
    for name in sorted(n for n, differs in changed.items() if differs and n in fixed):
        raise GaungError(
            "Posts of this campaign are already under review or sent out, so this can no "
            "longer change.",
            field=name,
        )
    campaign.title, campaign.kind, campaign.reminder_hours = new_title, new_kind, reminders
    campaign.starts_at, campaign.deadline = new_start, new_deadline
    if changed["unit_ids"]:
        session.execute(delete(CampaignUnit).where(col(CampaignUnit.campaign_id) == campaign.id))
        assert campaign.id is not None
        session.add_all(CampaignUnit(campaign_id=campaign.id, unit_id=u) for u in units)
    session.add(campaign)
    _audit(session, actor, "campaign.updated", "campaign", campaign.id, detail=new_title)
    session.commit()
    return campaign


def delete_campaign(session: Session, actor: User, campaign: Campaign) -> None:
    """Delete a campaign none of whose posts was ever sent for review (its drafts go too)."""
    _require_role(actor, WRITERS)
    if campaign.agency_id != actor.agency_id:
        raise NotFoundError("Campaign not found.")
    session.refresh(campaign, with_for_update=True)
    if _post_statuses(session, campaign) - set(DELETABLE):
        raise GaungError(
            "Only a campaign whose posts are all drafts can be deleted; withdraw its posts instead."
        )
    _audit(session, actor, "campaign.deleted", "campaign", campaign.id, detail=campaign.title)
    try:
        posts = select(Post.id).where(Post.campaign_id == campaign.id)
        session.execute(delete(PostVariant).where(col(PostVariant.post_id).in_(posts)))
        session.execute(delete(Post).where(col(Post.campaign_id) == campaign.id))
        session.execute(delete(CampaignUnit).where(col(CampaignUnit.campaign_id) == campaign.id))
        assert campaign.id is not None
        recurrence.forget(session, campaign.id)
        session.delete(campaign)
        session.flush()
    except IntegrityError:
        session.rollback()
        raise GaungError(_IN_USE) from None
    session.commit()


# --- posts ------------------------------------------------------------------------------


def _master_text(text: str) -> str:
    text = _text(text, "master_text")
    if not text:
        raise GaungError("The post text is required.", field="master_text")
    if len(text) > TEXT_MAX:
        raise GaungError(
            "The post text is %(actual)s characters; the limit is %(limit)s.",
            field="master_text",
            actual=len(text),
            limit=TEXT_MAX,
        )
    return text


def _link(link: str | None) -> str | None:
    link = _text(link or "", "link") or None
    if link is not None and len(link) > LINK_MAX:
        raise GaungError(
            "The link is %(actual)s characters; the limit is %(limit)s.",
            field="link",
            actual=len(link),
            limit=LINK_MAX,
        )
    check_link(link)
    return link


def _hashtags(hashtags: Iterable[str]) -> str:
    names: list[str] = []
    for raw in hashtags:
        name = raw.strip().lstrip("#")
        if not name:
            continue
        if not _HASHTAG_NAME.match(name):
            raise GaungError("Not a valid hashtag: %(tag)s.", field="hashtags", tag=raw)
        if name not in names:
            names.append(name)
    joined = " ".join(names)
    if len(joined) > HASHTAGS_MAX:
        raise GaungError(
            "The hashtags are %(actual)s characters; the limit is %(limit)s.",
            field="hashtags",
            actual=len(joined),
            limit=HASHTAGS_MAX,
        )
    return joined


def _platforms(platforms: Iterable[str]) -> str:
    chosen: list[str] = []
    for platform in platforms:
        if platform not in LIMITS:
            raise GaungError(
                "Unknown platform: %(platform)s.", field="platforms", platform=platform
            )
        if platform not in chosen:
            chosen.append(platform)
    if not chosen:
        raise GaungError("Choose at least one platform.", field="platforms")
    return ",".join(chosen)


def _official_urls(urls: Mapping[str, str | None]) -> dict[str, str | None]:
    columns: dict[str, str | None] = {}
    for platform, url in urls.items():
        if platform not in LIMITS:
            raise GaungError(
                "Unknown platform: %(platform)s.", field="official_urls", platform=platform
            )
        field = f"official_url_{platform}"
        value = _text(url or "", field) or None
        if value is not None and len(value) > OFFICIAL_URL_MAX:
            raise GaungError(
                "The address is %(actual)s characters; the limit is %(limit)s.",
                field=field,
                actual=len(value),
                limit=OFFICIAL_URL_MAX,
            )
        try:
            check_link(value)
        except RenditionError:
            raise GaungError(
                "The official %(platform)s post must be a full http:// or https:// address.",
                field=field,
                platform=LIMITS[platform].name,
            ) from None
        if value is not None:
            check_official_url(platform, value)  # the platform's own post shape, or an example
        columns[field] = value
    return columns


def _variant_text(value: str, field: str) -> str:
    value = _text(value, field)
    if len(value) > TEXT_MAX:
        raise GaungError(
            "The post text is %(actual)s characters; the limit is %(limit)s.",
            field=field,
            actual=len(value),
            limit=TEXT_MAX,
        )
    return value


def _variants(
    current: Mapping[str, Mapping[int, str]],
    texts: Mapping[str, str | None],
    variants: Mapping[str, Sequence[str]],
    master_text: str,
) -> dict[str, dict[int, str]]:
    """The post's own texts after the change; raises before anything is changed.

    ``texts`` sets or (None, empty) clears a platform's own text; ``variants`` replaces a
    platform's alternatives (empty ones are dropped, at most MAX_ALTERNATIVES). Platforms
    not named keep theirs. A text that repeats another text of the same platform is
    refused: it would not make the posts any less identical.
    """
    merged = {platform: dict(by_position) for platform, by_position in current.items()}
    for platform, text in texts.items():
        if platform not in LIMITS:
            raise GaungError("Unknown platform: %(platform)s.", field="texts", platform=platform)
        own = _variant_text(text or "", f"text_{platform}")
        slot = merged.setdefault(platform, {})
        if own:
            slot[0] = own
        else:
            slot.pop(0, None)
    for platform, alternatives in variants.items():
        if platform not in LIMITS:
            raise GaungError("Unknown platform: %(platform)s.", field="variants", platform=platform)
        cleaned = [
            value
            for n, raw in enumerate(alternatives, start=1)
            if (value := _variant_text(raw, f"variant_{platform}_{n}"))
        ]
        if len(cleaned) > post_variants.MAX_ALTERNATIVES:
            raise GaungError(
                N_(
                    "At most %(limit)s alternative texts per platform; %(platform)s has %(actual)s."
                ),
                field=f"variant_{platform}_{post_variants.MAX_ALTERNATIVES + 1}",
                platform=LIMITS[platform].name,
                limit=post_variants.MAX_ALTERNATIVES,
                actual=len(cleaned),
            )
        slot = merged.setdefault(platform, {})
        kept = slot.get(0)
        slot.clear()
        if kept:
            slot[0] = kept
        slot.update(enumerate(cleaned, start=1))
    for platform, by_position in merged.items():
        seen = {(by_position.get(0) or master_text).casefold()}
        for position, text in sorted(by_position.items()):
            if position == 0:
                continue
            if text.casefold() in seen:
                raise GaungError(
                    N_("%(platform)s alternative %(number)s repeats another text of the post."),
                    field=f"variant_{platform}_{position}",
                    platform=LIMITS[platform].name,
                    number=position,
                )
            seen.add(text.casefold())
    return {platform: by_position for platform, by_position in merged.items() if by_position}


def _post_columns(
    *,
    master_text: str,
    link: str | None,
    hashtags: Iterable[str],
    platforms: Iterable[str],
    scheduled_at: datetime | None,
    urgent: bool,
    image_path: str | None,
    official_urls: Mapping[str, str | None],
    previous_time: datetime | None = None,
) -> dict[str, Any]:
    """Checked and normalised column values; raises before anything is changed."""
    if scheduled_at is not None:
        scheduled_at = _not_past(scheduled_at, "scheduled_at", previous_time)
    return {
        "master_text": _master_text(master_text),
        "link": _link(link),
        "hashtags": _hashtags(hashtags),
        "platforms": _platforms(platforms),
        "scheduled_at": _aware(scheduled_at) if scheduled_at else None,
        "urgent": bool(urgent),
        "image_path": image_path or None,
        **_official_urls(official_urls),
    }


def create_post(
    session: Session,
    actor: User,
    campaign: Campaign,
    *,
    master_text: str,
    link: str | None,
    hashtags: Sequence[str],
    platforms: Sequence[str],
    scheduled_at: datetime | None,
    urgent: bool = False,
    image_path: str | None = None,
    official_urls: Mapping[str, str | None] | None = None,
    texts: Mapping[str, str | None] | None = None,
    variants: Mapping[str, Sequence[str]] | None = None,
) -> Post:
    """A draft post in ``campaign``, written by the actor.

    ``texts`` gives a platform its own text instead of the master text, ``variants`` up
    to five alternative captions per platform (see ``_variants``).
    """
    _require_role(actor, WRITERS)
    if campaign.agency_id != actor.agency_id:
        raise NotFoundError("Campaign not found.")
    assert campaign.id is not None
    assert actor.id is not None
    columns = _post_columns(
        master_text=master_text,
        link=link,
        hashtags=hashtags,
        platforms=platforms,
        scheduled_at=scheduled_at,
        urgent=urgent,
        image_path=image_path,
        official_urls=official_urls or {},
    )
    own = _variants({}, texts or {}, variants or {}, columns["master_text"])
    post = Post(campaign_id=campaign.id, author_id=actor.id, status=PostStatus.DRAFT, **columns)
    session.add(post)
    session.flush()
    assert post.id is not None
    if own:
        post_variants.replace(session, post.id, own)
    _audit(session, actor, "post.created", "post", post.id, campaign=campaign)
    session.commit()
    return post


def update_post(
    session: Session,
    actor: User,
    post: Post,
    *,
    master_text: str | _Unset = UNSET,
    link: str | _Unset | None = UNSET,
    hashtags: Sequence[str] | _Unset = UNSET,
    platforms: Sequence[str] | _Unset = UNSET,
    scheduled_at: datetime | _Unset | None = UNSET,
    urgent: bool | _Unset = UNSET,
    image_path: str | _Unset | None = UNSET,
    official_urls: Mapping[str, str | None] | _Unset = UNSET,
    texts: Mapping[str, str | None] | _Unset = UNSET,
    variants: Mapping[str, Sequence[str]] | _Unset = UNSET,
) -> Post:
    """Edit a draft or rejected post (fields left UNSET stay); a rejected one becomes a draft.

    ``official_urls`` and ``texts`` are merged: platforms not named keep their address or
    own text, None clears one. ``variants`` replaces the alternatives of the platforms it
    names. Once submitted, none of the texts can change (only by withdrawing).
    """
    _require_role(actor, WRITERS)
    campaign = _campaign_of(session, actor, post)
    if actor.role != Role.ADMIN and post.author_id != actor.id:
        raise ForbiddenError("Only the author or an admin may change this post.")
    _lock(session, post)
    if post.status not in (PostStatus.DRAFT, PostStatus.REJECTED):
        raise GaungError("Only a draft or a rejected post can be edited.")
    urls = {p: post.official_url(p) for p in LIMITS}
    if not isinstance(official_urls, _Unset):
        urls.update(official_urls)
    columns = _post_columns(
        master_text=post.master_text if isinstance(master_text, _Unset) else master_text,
        link=post.link if isinstance(link, _Unset) else link,
        hashtags=post.hashtag_list() if isinstance(hashtags, _Unset) else hashtags,
        platforms=post.platform_list() if isinstance(platforms, _Unset) else platforms,
        scheduled_at=post.scheduled_at if isinstance(scheduled_at, _Unset) else scheduled_at,
        urgent=post.urgent if isinstance(urgent, _Unset) else urgent,
        image_path=post.image_path if isinstance(image_path, _Unset) else image_path,
        official_urls=urls,
        previous_time=post.scheduled_at,
    )
    current = post_variants.load(session, post.id)
    own = _variants(
        current,
        {} if isinstance(texts, _Unset) else texts,
        {} if isinstance(variants, _Unset) else variants,
        columns["master_text"],
    )
    was = post.status
    for name, value in columns.items():
        setattr(post, name, value)
    if own != current:
        assert post.id is not None
        post_variants.replace(session, post.id, own)
    post.status = PostStatus.DRAFT
    post.updated_at = utcnow()
    detail = "rejected -> draft" if was == PostStatus.REJECTED else ""
    _audit(session, actor, "post.updated", "post", post.id, campaign=campaign, detail=detail)
    session.commit()
    return post


# Statuses a post can be moved to another time in (the calendar); approved or dispatched
# posts are fixed: withdraw an approved one first.
MOVABLE = (PostStatus.DRAFT, PostStatus.REJECTED)


def move_post(session: Session, actor: User, post: Post, scheduled_at: datetime) -> Post:
    """Give a draft (or rejected) post another send time, e.g. from the calendar; audited.

    Only the time changes, and the post keeps its status; the time may not be in the past.
    """
    _require_role(actor, WRITERS)
    campaign = _campaign_of(session, actor, post)
    _require_author_or_admin(actor, post, "Only the author or an admin may move this post.")
    _lock(session, post)
    if post.status not in MOVABLE:
        raise GaungError(
            N_(
                "Only a draft or a rejected post can be moved; this one is waiting for "
                "approval, approved or sent out (withdraw an approved post to change it)."
            ),
            field="scheduled_at",
        )
    new_time = _not_past(scheduled_at, "scheduled_at")
    old_time = post.scheduled_at
    post.scheduled_at = new_time
    post.updated_at = utcnow()
    session.add(post)
    was = _aware(old_time).isoformat() if old_time else "none"
    detail = f"{was} -> {new_time.isoformat()}"
    _audit(session, actor, "post.moved", "post", post.id, campaign=campaign, detail=detail)
    session.commit()
    return post


def _require_author_or_admin(actor: User, post: Post, message: str) -> None:
    if actor.role != Role.ADMIN and post.author_id != actor.id:
        raise ForbiddenError(message)


def delete_post(session: Session, actor: User, post: Post) -> None:
    """Delete a draft (or a rejected post, which is a draft sent back): nothing went out."""
    _require_role(actor, WRITERS)
    campaign = _campaign_of(session, actor, post)
    _require_author_or_admin(actor, post, "Only the author or an admin may delete this post.")
    _lock(session, post)
    if post.status not in DELETABLE:
        raise GaungError("Only a draft can be deleted; withdraw an approved post instead.")
    _audit(session, actor, "post.deleted", "post", post.id, campaign=campaign)
    try:
        session.execute(delete(PostVariant).where(col(PostVariant.post_id) == post.id))
        session.delete(post)
        session.flush()
    except IntegrityError:
        session.rollback()
        raise GaungError(_IN_USE) from None
    session.commit()


# --- transitions ------------------------------------------------------------------------


def submit(session: Session, actor: User, post: Post) -> Post:
    """Send a draft for approval; every platform rendition must fit its limits."""
    _require_role(actor, WRITERS)
    campaign = _campaign_of(session, actor, post)
    if actor.role != Role.ADMIN and post.author_id != actor.id:
        raise ForbiddenError("Only the author or an admin may submit this post.")
    _lock(session, post)
    if post.status != PostStatus.DRAFT:
        raise GaungError("Only a draft can be submitted.")
    _validate_for_platforms(session, post, campaign)
    post.status = PostStatus.SUBMITTED
    post.updated_at = utcnow()
    _audit(session, actor, "post.submitted", "post", post.id, campaign=campaign)
    session.commit()
    return post


def approve(session: Session, actor: User, post: Post) -> Post:
    """Approve a submitted post and queue its dispatch (at once when urgent)."""
    _require_role(actor, REVIEWERS)
    campaign = _campaign_of(session, actor, post)
    _require_other_reviewer(session, actor, post)
    _lock(session, post)
    if post.status != PostStatus.SUBMITTED:
        raise GaungError("Only a submitted post can be approved.")
    _validate_for_platforms(session, post, campaign)
    assert post.id is not None
    now = utcnow()
    post.status = PostStatus.APPROVED
    post.approver_id = actor.id
    post.reviewed_at = now
    post.updated_at = now
    run_at = now if post.urgent or post.scheduled_at is None else post.scheduled_at
    schedule_dispatch(session, post, run_at)
    copies = offers.copy_approved(session, post, actor)  # network members who accepted
    detail = f"dispatch at {run_at.isoformat()}"
    if copies:
        detail += f"; copied to {len(copies)} network agencies"
    _audit(session, actor, "post.approved", "post", post.id, campaign=campaign, detail=detail)
    webhooks.emit(
        session,
        campaign.agency_id,
        EventType.POST_APPROVED,
        {
            "post_id": post.id,
            "campaign_id": campaign.id,
            "approved_at": now,
            "dispatch_at": run_at,
            "urgent": post.urgent,
            "platforms": post.platform_list(),
        },
    )
    session.commit()
    return post


def reject(session: Session, actor: User, post: Post, note: str) -> Post:
    """Send a submitted post back to its author with a note saying what to change."""
    _require_role(actor, REVIEWERS)
    campaign = _campaign_of(session, actor, post)
    note = _text(note, "note")
    if not note:
        raise GaungError("A rejection needs a note for the author.", field="note")
    if len(note) > NOTE_MAX:
        raise GaungError(
            "The note is %(actual)s characters; the limit is %(limit)s.",
            field="note",
            actual=len(note),
            limit=NOTE_MAX,
        )
    _require_other_reviewer(session, actor, post)
    _lock(session, post)
    if post.status != PostStatus.SUBMITTED:
        raise GaungError("Only a submitted post can be rejected.")
    now = utcnow()
    post.status = PostStatus.REJECTED
    post.approver_id = actor.id
    post.reviewed_at = now
    post.review_note = note
    post.updated_at = now
    _audit(session, actor, "post.rejected", "post", post.id, campaign=campaign, detail=note)
    session.commit()
    return post


def dispatch_now(session: Session, actor: User, post: Post) -> Post:
    """Send an approved post out now instead of at its time.

    Only the time changes: the post keeps its own urgency (which decides notice priority,
    muted reminders and digests), so sending early never turns it into an urgent one.
    """
    _require_role(actor, REVIEWERS)
    campaign = _campaign_of(session, actor, post)
    _lock(session, post)
    if post.status != PostStatus.APPROVED:
        raise GaungError("Only an approved post that has not gone out yet can be sent now.")
    assert post.id is not None
    now = utcnow()
    # Idempotent: it returns the job queued at approval, or restores a lost one.
    schedule_dispatch(session, post, now)
    queue.reschedule(session, dispatch_key(post.id), now)
    for copy in offers.copies_of(session, post.id, [PostStatus.APPROVED]):
        queue.reschedule(session, dispatch_key(copy.id or 0), now)  # the network goes too
    post.updated_at = now
    _audit(session, actor, "post.dispatch_now", "post", post.id, campaign=campaign)
    session.commit()
    return post


def correct_official_urls(
    session: Session, actor: User, post: Post, official_urls: Mapping[str, str | None]
) -> Post:
    """Correct the agency's own post links of an approved or dispatched post; audited.

    Merged like update_post (platforms not named keep their address, None clears one);
    only the post's platforms may be named. Commits.
    """
    _require_role(actor, WRITERS | REVIEWERS)
    _campaign_of(session, actor, post)
    _lock(session, post)
    if post.status not in CORRECTABLE:
        raise GaungError(
            N_("Only an approved or dispatched post's official links are corrected here.")
        )
    unknown = sorted(set(official_urls) - set(post.platform_list()))
    if unknown:
        raise GaungError(
            N_("This post does not go to %(platform)s."),
            field=f"official_url_{unknown[0]}",
            platform=LIMITS[unknown[0]].name if unknown[0] in LIMITS else unknown[0],
        )
    columns = _official_urls(official_urls)
    changed = [f.removeprefix("official_url_") for f, v in columns.items() if getattr(post, f) != v]
    if not changed:
        return post
    # The network's copies repost the same official posts: they follow the correction.
    for target in [post, *offers.copies_of(session, post.id or 0)]:
        _set_official_urls(session, actor, target, columns, changed)
    session.commit()
    return post


def _set_official_urls(
    session: Session,
    actor: User,
    post: Post,
    columns: Mapping[str, str | None],
    changed: list[str],
) -> None:
    for name, value in columns.items():
        setattr(post, name, value)
    post.updated_at = utcnow()
    session.add(post)
    for hook in after_official_urls_changed:
        hook(session, post.id or 0, changed)
    detail = "official links corrected: " + ", ".join(changed)
    campaign = session.get_one(Campaign, post.campaign_id)
    _audit(
        session,
        actor,
        "post.official_urls_corrected",
        "post",
        post.id,
        campaign=campaign,
        detail=detail,
    )


def withdraw(session: Session, actor: User, post: Post) -> Post:
    """Take back an approved post: before dispatch its queued dispatch is cancelled; after
    dispatch the ``after_withdrawal`` hooks close its open assignments and tell the ASN,
    all in this transaction. A coordinator's post takes the network's copies with it."""
    _require_role(actor, REVIEWERS)
    campaign = _campaign_of(session, actor, post)
    _lock(session, post)
    if post.status not in (PostStatus.APPROVED, PostStatus.DISPATCHED):
        raise GaungError("Only an approved or dispatched post can be withdrawn.")
    _withdraw(session, actor, post, campaign)
    for copy in offers.copies_of(session, post.id or 0):
        _lock(session, copy)
        if copy.status in (PostStatus.APPROVED, PostStatus.DISPATCHED):
            _withdraw(session, actor, copy, session.get_one(Campaign, copy.campaign_id))
    session.commit()
    return post


def _withdraw(session: Session, actor: User, post: Post, campaign: Campaign) -> None:
    """Withdraw one post (row locked, status checked) with its hooks, audit and webhook."""
    assert post.id is not None
    was = post.status
    post.status = PostStatus.WITHDRAWN
    post.updated_at = utcnow()
    session.add(post)
    session.flush()
    if was == PostStatus.APPROVED:
        cancel_dispatch(session, post.id)
        for hook in before_dispatched_withdrawal:
            hook(session, post.id)
    else:
        for hook in after_withdrawal:
            hook(session, post.id)
    detail = f"{was} -> withdrawn"
    _audit(session, actor, "post.withdrawn", "post", post.id, campaign=campaign, detail=detail)
    webhooks.emit(
        session,
        campaign.agency_id,
        EventType.POST_WITHDRAWN,
        {
            "post_id": post.id,
            "campaign_id": campaign.id,
            "withdrawn_at": post.updated_at,
            "was": str(was),
        },
    )


def _audit(
    session: Session,
    actor: User,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    campaign: Campaign | None = None,
    detail: str = "",
) -> None:
    agency_id = campaign.agency_id if campaign is not None else actor.agency_id
    audit.record(
        session,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        agency_id=agency_id,
        detail=detail,
    )
