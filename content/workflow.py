"""Campaign and post services: drafting, submission, approval, rejection and urgent dispatch.

Rules every function here follows:

* It takes the acting ``User`` and checks the role first (``ForbiddenError``), then the
  agency: another agency's campaign or post is reported exactly like a missing one
  (``NotFoundError``), so ids reveal nothing across tenants.
* Roles: "editor" drafts, edits and submits; "approver" approves, rejects and dispatches
  now; "admin" may do all of it; "supervisor" only reads. Nobody approves or rejects a
  post they wrote or edited (four eyes), not even an admin.
* Transactions: a function that changes something validates everything before touching
  a row, then applies the change, adds its audit row and the work it queues, and
  **commits** before returning, so the web layer and the CLI just call it. On an error it
  raises before any change, so there is nothing half-done to roll back. Read functions
  (``get_*``, ``list_*``) never commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlmodel import Session, col, func, select

from content.models import Campaign, CampaignKind, CampaignUnit, Post, PostStatus
from content.reminder_hours import normalise_hours
from content.rendering import RenditionError, check_link, disclosure_tag_for, validate
from content.schedule import dispatch_key, schedule_dispatch
from gaung.db import utcnow
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from kernel import audit, queue, webhooks
from kernel.audit import AuditLog
from kernel.limits import LIMITS
from kernel.webhooks import EventType
from roster.models import Agency, Role, Unit, User

WRITERS = frozenset({Role.EDITOR, Role.ADMIN})
REVIEWERS = frozenset({Role.APPROVER, Role.ADMIN})
TITLE_MAX = 200
TEXT_MAX = 5000
NOTE_MAX = 2000
HASHTAGS_MAX = 500
_HASHTAG_NAME = re.compile(r"^\w+$")


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET
"""Default of ``update_post`` arguments: leave that field as it is."""


# --- checks -----------------------------------------------------------------------------


def _require_role(actor: User, roles: frozenset[Role]) -> None:
    if not actor.active or actor.role not in roles:
        raise ForbiddenError("Your role does not allow this action.")


def _aware(value: datetime) -> datetime:
    """Stored times are UTC; a naive time from a caller is taken to be UTC already."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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


def _validate_for_platforms(session: Session, post: Post, campaign: Campaign) -> None:
    agency = session.get(Agency, campaign.agency_id)
    assert agency is not None  # foreign key
    validate(post, kind=campaign.kind, disclosure_tag=disclosure_tag_for(agency))


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


def _check_units(session: Session, actor: User, unit_ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(unit_ids))
    if not wanted:
        return []
    found = session.exec(
        select(Unit.id).where(col(Unit.id).in_(wanted), Unit.agency_id == actor.agency_id)
    ).all()
    if len(found) != len(wanted):
        raise GaungError("One of the chosen units is not in your agency.", field="unit_ids")
    return wanted


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
    title = title.strip()
    if not title:
        raise GaungError("The title is required.", field="title")
    if len(title) > TITLE_MAX:
        raise GaungError(
            "The title is %(actual)s characters; the limit is %(limit)s.",
            field="title",
            actual=len(title),
            limit=TITLE_MAX,
        )
    if kind not in set(CampaignKind):
        raise GaungError("Unknown campaign kind: %(kind)s.", field="kind", kind=kind)
    starts_at, deadline = _aware(starts_at), _aware(deadline)
    if deadline <= starts_at:
        raise GaungError("The deadline must be after the start.", field="deadline")
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


# --- posts ------------------------------------------------------------------------------


def _master_text(text: str) -> str:
    text = text.strip()
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
    link = (link or "").strip() or None
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
        value = (url or "").strip() or None
        try:
            check_link(value)
        except RenditionError:
            raise GaungError(
                "The official %(platform)s post must be a full http:// or https:// address.",
                field=f"official_url_{platform}",
                platform=LIMITS[platform].name,
            ) from None
        columns[f"official_url_{platform}"] = value
    return columns


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
) -> dict[str, Any]:
    """Checked and normalised column values; raises before anything is changed."""
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
) -> Post:
    """A draft post in ``campaign``, written by the actor."""
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
    post = Post(campaign_id=campaign.id, author_id=actor.id, status=PostStatus.DRAFT, **columns)
    session.add(post)
    session.flush()
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
) -> Post:
    """Edit a draft or rejected post (fields left UNSET stay); a rejected one becomes a draft.

    ``official_urls`` is merged: platforms not named keep their address, None clears one.
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
    )
    was = post.status
    for name, value in columns.items():
        setattr(post, name, value)
    post.status = PostStatus.DRAFT
    post.updated_at = utcnow()
    detail = "rejected -> draft" if was == PostStatus.REJECTED else ""
    _audit(session, actor, "post.updated", "post", post.id, campaign=campaign, detail=detail)
    session.commit()
    return post


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
    detail = f"dispatch at {run_at.isoformat()}"
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
    note = note.strip()
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
    """Send an approved post out now (an urgent hoax clarification) instead of at its time."""
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
    post.urgent = True
    post.updated_at = now
    _audit(session, actor, "post.dispatch_now", "post", post.id, campaign=campaign)
    session.commit()
    return post


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
