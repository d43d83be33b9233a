"""Keeps the sandbox's world in step with the demo database.

Read on demand (at most every second, or at once when an endpoint meets an unknown id):
enrolled accounts with their followers, dispatched posts with their official links, the
links ASN reported, and who the linked Telegram chats and WhatsApp numbers belong to.
Each dispatched post is played out once (``behaviour.play_out``); each reported link
becomes a post once (``behaviour.materialise``). Only reads: the sandbox never
writes to Gaung's database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment
from assignments.reporting import RepostRef, parse_repost_url
from channels.sandbox import behaviour
from channels.sandbox.behaviour import Assignee, Official
from channels.sandbox.state import Account, World, stable_int
from content.models import Campaign, Post
from gaung.errors import GaungError
from roster.models import Agency, Asn, SocialAccount


@dataclass(frozen=True)
class SeedSettings:
    base_url: str  # Gaung's, for the tracking links quoted in reposts
    ig_user_id: str  # the agency's Instagram account (the business discovery vantage point)


def source(engine: Engine, settings: SeedSettings) -> Callable[[World], None]:
    """A ``World.source`` reading ``engine``."""

    def sync_world(world: World) -> None:
        sync(world, engine, settings)

    return sync_world


def sync(world: World, engine: Engine, settings: SeedSettings) -> None:
    with Session(engine) as session:
        _accounts(world, session)
        _contacts(world, session)
        for post, agency in session.exec(
            select(Post, Agency)
            .join(Campaign, col(Campaign.id) == col(Post.campaign_id))
            .join(Agency, col(Agency.id) == col(Campaign.agency_id))
            .where(col(Post.dispatched_at).is_not(None))
        ):
            for platform in post.platform_list():
                official = _official(post, agency, platform)
                if official is not None:
                    _play(world, session, post, official, settings)


def _contacts(world: World, session: Session) -> None:
    """The sandbox's Telegram knows the chats ASN linked; its WhatsApp knows their numbers."""
    rows = session.exec(select(Asn.name, Asn.telegram_chat_id, Asn.phone))
    contacts: dict[tuple[str, str], str] = {}
    for name, chat, phone in rows:
        if chat:
            contacts[("telegram", chat)] = name
        if phone:
            contacts[("whatsapp", phone.lstrip("+"))] = name
    world.set_contacts(contacts)


def _accounts(world: World, session: Session) -> None:
    rows = session.exec(
        select(SocialAccount, Asn.name).join(Asn, col(Asn.id) == col(SocialAccount.asn_id))
    )
    for account, name in rows:
        user_id = account.platform_user_id
        if not user_id:
            continue  # not verified yet: the sandbox makes it up when it is looked up
        known = world.accounts.get((account.platform, user_id))
        if known and (known.handle, known.followers) == (account.handle, account.followers):
            continue
        world.upsert_account(
            Account(
                platform=account.platform,
                user_id=user_id,
                handle=account.handle,
                name=name,
                followers=account.followers,
                bio="ASN | Pendapat pribadi",
                public=_public(account.platform, user_id),
            )
        )


def _public(platform: str, user_id: str) -> bool:
    """ASN on Facebook have personal profiles; two in three on Instagram are professional."""
    if platform == "facebook":
        return False
    return platform == "x" or stable_int("professional", user_id) % 3 != 0


def _parse(platform: str, url: str | None) -> RepostRef | None:
    """A link's platform id, or None: a malformed link is skipped, never fatal."""
    try:
        return parse_repost_url(platform, url) if url else None
    except GaungError:
        return None


def _official(post: Post, agency: Agency, platform: str) -> Official | None:
    ref = _parse(platform, post.official_url(platform))
    if ref is None or ref.post_id is None:
        return None
    started = min(t for t in (post.scheduled_at, post.dispatched_at) if t is not None)
    tags = " ".join(f"#{tag}" for tag in post.hashtag_list())
    text = " ".join(part for part in (post.master_text, tags, post.link or "") if part)
    owner = ref.handle or agency.slug  # an Instagram link does not name its owner
    return Official(platform, ref.post_id, owner, agency.name, text, _aware(started))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _play(
    world: World, session: Session, post: Post, official: Official, settings: SeedSettings
) -> None:
    owner_id = settings.ig_user_id if official.platform == "instagram" else None
    owner = behaviour.agency_account(
        world, official.platform, official.owner, official.owner_name, owner_id
    )
    stored = behaviour.official_post(world, official, owner)
    assignees = _assignees(session, post, official.platform, settings.base_url)
    if ("played", official.platform, stored.post_id) not in world.done:
        if official.platform == "x":
            behaviour.play_out(world, stored, owner, assignees)
        world.done.add(("played", official.platform, stored.post_id))
    for assignee in assignees:
        key = ("reported", official.platform, assignee.repost_url or "")
        if assignee.repost_url and key not in world.done:
            behaviour.materialise(world, stored, owner, assignee)
            world.done.add(key)


def _assignees(session: Session, post: Post, platform: str, base_url: str) -> list[Assignee]:
    rows = session.exec(
        select(
            SocialAccount.platform_user_id,
            Assignment.code,
            Assignment.repost_url,
            Assignment.reported_at,
        )
        .join(SocialAccount, col(SocialAccount.id) == col(Assignment.account_id))
        .where(Assignment.post_id == post.id, Assignment.platform == platform)
        .order_by(col(Assignment.id))
    )
    tracking = base_url.rstrip("/") + "/r/"
    return [
        Assignee(
            user_id=user_id,
            tracking_url=tracking + code,
            repost_url=url,
            repost_id=(_parse(platform, url) or RepostRef("", None, None)).post_id,
            reported_at=_aware(reported_at) if reported_at else None,
        )
        for user_id, code, url, reported_at in rows
        if user_id
    ]
