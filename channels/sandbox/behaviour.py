"""How the sandbox's people behave: who reposts an official post, when, how, what gets deleted.

Every choice comes from a random generator seeded with the ids involved, so a given demo
database always plays out the same way. Times are relative to when the post went out:
reposts appear over the following minutes and hours, so the real verify and measure jobs
find more of them on every round, and metrics keep growing.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.sandbox.state import Account, Post, World, invented_account, rng, snowflake

REPOST_SHARE = 0.55  # of assigned X accounts that repost without reporting a link
QUOTE_SHARE = 0.3  # of reposts that are quotes (with a comment) rather than plain reposts
DELETED_SHARE = 0.07  # of reposts deleted a while later
PUBLIC_SHARE = 0.35  # members of the public reposting, per assigned account
MEAN_DELAY_MINUTES = 40.0
MAX_DELAY = timedelta(hours=10)
# Reported links that turn out not to be a repost, or to be someone else's post.
NOT_A_REPOST_SHARE = 0.05
WRONG_AUTHOR_SHARE = 0.04
COMMENTS = (
    "Info resmi, mohon dibaca.",
    "Mari sebarkan informasi yang benar.",
    "Simak penjelasan lengkapnya.",
    "Penting untuk diketahui bersama.",
    "Informasi dari kementerian, silakan dibagikan.",
)
UNRELATED = (
    "Selamat pagi, semangat melayani masyarakat!",
    "Rapat koordinasi hari ini berjalan lancar.",
    "Cuaca Jakarta cerah hari ini.",
)


@dataclass(frozen=True)
class Official:
    """An agency's official post, as the demo database describes it."""

    platform: str
    post_id: str  # the platform's id (X status id, Facebook post id, Instagram shortcode)
    owner: str  # the agency's handle on that platform
    owner_name: str
    text: str
    started: datetime


@dataclass(frozen=True)
class Assignee:
    """An enrolled account assigned the post, and what its ASN reported (if anything)."""

    user_id: str
    tracking_url: str
    repost_url: str | None = None
    repost_id: str | None = None  # the platform id in repost_url
    reported_at: datetime | None = None


def agency_account(
    world: World, platform: str, handle: str, name: str, user_id: str | None = None
) -> Account:
    """The agency's own account: a Page / professional account with a large following."""
    base = invented_account(platform, handle)
    numbers = rng("agency", platform, handle.lower())
    return world.upsert_account(
        Account(
            platform=platform,
            user_id=user_id or base.user_id,
            handle=handle,
            name=name,
            followers=numbers.randint(1_200_000, 3_400_000),
            bio=f"Akun resmi {name}.",
            public=True,
        )
    )


def official_post(world: World, official: Official, author: Account) -> Post:
    """The official post on its platform (created once; later calls return the same)."""
    numbers = rng("official", official.platform, official.post_id)
    post = Post(
        platform=official.platform,
        post_id=official.post_id,
        author_id=author.user_id,
        text=official.text,
        created_at=official.started,
        audience=author.followers,
        engagement=numbers.uniform(0.05, 0.2),
    )
    if official.platform == "facebook":
        post.post_id = f"{author.user_id}_{official.post_id}"
        post.permalink = f"https://www.facebook.com/{author.handle}/posts/{official.post_id}"
    elif official.platform == "instagram":
        post.post_id = media_id(official.post_id)
        post.shortcode = official.post_id
        post.permalink = f"https://www.instagram.com/p/{official.post_id}/"
    else:
        post.permalink = f"https://x.com/{author.handle}/status/{official.post_id}"
    return world.add_post(post)


def media_id(shortcode: str) -> str:
    """A stable 17-digit Instagram media id for a shortcode."""
    return str(17_900_000_000_000_000 + rng("media", shortcode).randrange(10**14))


def _delay(numbers: random.Random) -> timedelta:
    minutes = 1 + numbers.expovariate(1 / MEAN_DELAY_MINUTES)
    return min(timedelta(minutes=minutes), MAX_DELAY)


def _x_repost(
    official: Post, author: Account, owner: Account, at: datetime, salt: str, tracking: str
) -> Post:
    """A retweet or quote of the official post by ``author``, appearing at ``at``."""
    numbers = rng("repost", official.post_id, salt)
    quote = numbers.random() < QUOTE_SHARE
    if quote:
        comment = numbers.choice(COMMENTS)
        text = f"{comment} {tracking} https://x.com/{owner.handle}/status/{official.post_id}"
        references: tuple[tuple[str, str], ...] = (("quoted", official.post_id),)
    else:
        text = _clip(f"RT @{owner.handle}: {official.text}")
        references = (("retweeted", official.post_id),)
    deleted = None
    if numbers.random() < DELETED_SHARE:
        deleted = at + timedelta(minutes=numbers.uniform(45, 720))
    return Post(
        platform="x",
        post_id=snowflake(at, f"{official.post_id}:{salt}"),
        author_id=author.user_id,
        text=text,
        created_at=at,
        deleted_at=deleted,
        references=references,
        audience=author.followers,
        engagement=numbers.uniform(0.1, 0.6),
    )


def _clip(text: str, limit: int = 280) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def planned_repost(world: World, official: Post, owner: Account, assignee: Assignee) -> Post | None:
    """The repost an assigned account makes on its own (None: this one does not repost)."""
    author = world.account("x", assignee.user_id)
    numbers = rng("plan", official.post_id, assignee.user_id)
    if author is None or numbers.random() >= REPOST_SHARE:
        return None
    at = official.created_at + _delay(numbers)
    return _x_repost(official, author, owner, at, assignee.user_id, assignee.tracking_url)


def play_out(world: World, official: Post, owner: Account, assignees: list[Assignee]) -> int:
    """Add the reposts of the assigned accounts and of the public; returns how many."""
    added = 0
    for assignee in assignees:
        if assignee.repost_url:
            continue  # their reported link is the repost (see ``materialise``)
        repost = planned_repost(world, official, owner, assignee)
        if repost is not None:
            world.add_post(repost)
            added += 1
    numbers = rng("public", official.post_id)
    for n in range(int(len(assignees) * PUBLIC_SHARE) + 3):
        person = world.by_handle("x", f"warga_{stable_suffix(official.post_id, n)}")
        assert person is not None
        at = official.created_at + _delay(numbers)
        world.add_post(_x_repost(official, person, owner, at, f"public:{n}", ""))
        added += 1
    return added


def stable_suffix(*parts: object) -> str:
    return f"{rng('suffix', *parts).randrange(10**6):06d}"


def materialise(world: World, official: Post, owner: Account, assignee: Assignee) -> Post | None:
    """The post behind a link an ASN reported: usually their repost, sometimes not.

    A deterministic few are unrelated posts (rejected: not a repost), belong to another
    account (rejected: wrong author) or are deleted a while later (flagged as gone).
    """
    if not assignee.repost_id:
        return None
    author = world.account(official.platform, assignee.user_id)
    if author is None:
        return None
    numbers = rng("report", official.platform, assignee.repost_id)
    at = (assignee.reported_at or world.clock()) - timedelta(minutes=numbers.uniform(1, 15))
    if official.platform == "instagram":
        return world.add_post(_ig_repost(official, author, assignee, at, numbers.uniform(0.1, 0.5)))
    if official.platform != "x":
        return None  # Facebook profiles are unreadable by a Page token: nothing to serve
    planned = planned_repost(world, official, owner, assignee)
    if planned is not None and planned.created_at > world.clock():
        world.drop_post("x", planned.post_id)  # they reposted now, not at the planned time
    roll = numbers.random()
    post = _x_repost(official, author, owner, at, assignee.user_id, assignee.tracking_url)
    post.post_id = assignee.repost_id
    if roll < NOT_A_REPOST_SHARE:
        post.text, post.references, post.deleted_at = numbers.choice(UNRELATED), (), None
    elif roll < NOT_A_REPOST_SHARE + WRONG_AUTHOR_SHARE:
        other = world.by_handle("x", f"akun_lain_{stable_suffix(assignee.repost_id)}")
        assert other is not None
        post.author_id = other.user_id
    return world.add_post(post)


def _ig_repost(
    official: Post, author: Account, assignee: Assignee, at: datetime, engagement: float
) -> Post:
    assert assignee.repost_url is not None
    shortcode = shortcode_of(assignee.repost_url) or assignee.repost_id or ""
    return Post(
        platform="instagram",
        post_id=media_id(shortcode),
        author_id=author.user_id,
        text=f"{official.text}\n\n{assignee.tracking_url}".strip(),
        created_at=at,
        shortcode=shortcode,
        permalink=f"https://www.instagram.com/p/{shortcode}/",
        audience=author.followers,
        engagement=engagement,
    )


_SHORTCODE = re.compile(r"/(?:p|reel|reels|tv)/([\w-]+)")


def shortcode_of(url: str) -> str | None:
    match = _SHORTCODE.search(url)
    return match.group(1) if match else None
