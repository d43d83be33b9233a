"""The sandbox's world, in memory: accounts, posts, rate budgets and messages sent.

One ``World`` answers every fake endpoint. It is filled from the demo database by
``channels.sandbox.seed`` (enrolled accounts, dispatched posts, reported links) and grows by
itself through ``channels.sandbox.behaviour``: what ASN and the public do over time is decided
by seeded random numbers, so the same database and clock always give the same answers.
Everything the endpoints read is computed "as of now" (a post appears at its ``created_at`` and
vanishes at its ``deleted_at``), so nothing has to tick in the background.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PLATFORMS = ("x", "facebook", "instagram")
TWITTER_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from here
REFRESH_SECONDS = 1.0  # how stale the copy of the database may get
MISS_REFRESH_SECONDS = 0.2  # an unknown id re-reads the database at most this often
_HANDLE = re.compile(r"^[A-Za-z0-9_.]{1,50}$")
# Handles starting with this do not exist, so the "account not found" path can be tried.
MISSING_PREFIX = "notfound"


def utcnow() -> datetime:
    return datetime.now(UTC)


def stable_int(*parts: object) -> int:
    """A number fixed by ``parts`` across runs and machines (unlike ``hash()``)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def rng(*parts: object) -> random.Random:
    return random.Random(stable_int(*parts))


def snowflake(at: datetime, salt: object) -> str:
    """An X-style id: time-ordered, so ``since_id`` paging works as on X."""
    ms = max(0, int(at.timestamp() * 1000) - TWITTER_EPOCH_MS)
    return str((ms << 22) | (stable_int("seq", salt) & 0x3FFFFF))


@dataclass
class Account:
    platform: str
    user_id: str
    handle: str
    name: str
    followers: int
    bio: str = ""
    # Instagram: a professional account (business discovery sees it). Facebook: a Page (a Page
    # token reads it); personal profiles are invisible to the Graph API, as on the real thing.
    public: bool = True
    created_at: datetime = field(default_factory=lambda: datetime(2015, 3, 1, tzinfo=UTC))


@dataclass
class Post:
    platform: str
    post_id: str
    author_id: str
    text: str
    created_at: datetime
    deleted_at: datetime | None = None
    references: tuple[tuple[str, str], ...] = ()  # X: ("retweeted" | "quoted", post id)
    shortcode: str = ""  # Instagram permalink code
    permalink: str = ""
    audience: int = 0  # followers of the author: views grow towards a share of it
    engagement: float = 0.5

    def visible(self, now: datetime) -> bool:
        return self.created_at <= now and (self.deleted_at is None or now < self.deleted_at)

    def counts(self, now: datetime) -> Counts:
        """Metrics at ``now``: they grow fast in the first hours, then level off."""
        hours = max(0.0, (now - self.created_at).total_seconds() / 3600)
        grown = 1 - 2 ** (-hours / 4)
        views = int(self.audience * self.engagement * grown)
        return Counts(views, views // 40, views // 250, views // 400, views // 900, views // 600)


@dataclass(frozen=True)
class Counts:
    views: int
    likes: int
    reposts: int
    replies: int
    quotes: int
    bookmarks: int


@dataclass(frozen=True)
class Budget:
    """One endpoint's rate window after a call: the x-rate-limit-* headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: datetime


@dataclass(frozen=True)
class SentMessage:
    channel: str  # telegram | whatsapp
    to: str
    text: str
    at: datetime


@dataclass(frozen=True)
class CaughtMail:
    """A message the mail catcher accepted (``channels.sandbox.mail``)."""

    id: int  # 1, 2, ... in arrival order: the sandbox page's /sandbox/mail/<id>
    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str  # the text/plain part ("" if none)
    html: str | None  # the text/html part, shown only in a sandboxed frame
    at: datetime


class World:
    """Thread-safe: the server answers from a thread pool, the seeder writes from it too."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utcnow,
        rate_limit: int = 180,
        rate_window: timedelta = timedelta(minutes=15),
        source: Callable[[World], None] | None = None,
    ) -> None:
        self.clock = clock
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.source = source
        self.accounts: dict[tuple[str, str], Account] = {}
        self.posts: dict[tuple[str, str], Post] = {}
        self.messages: list[SentMessage] = []
        self.mails: list[CaughtMail] = []
        # (channel, address) -> the ASN's name: Telegram chats linked, WhatsApp numbers.
        self.contacts: dict[tuple[str, str], str] = {}
        # What the seeder already turned into posts (official posts, reported links).
        self.done: set[tuple[str, ...]] = set()
        self._handles: dict[tuple[str, str], str] = {}
        self._bios: dict[tuple[str, str], str] = {}
        self._shortcodes: dict[str, str] = {}
        self._windows: dict[str, tuple[datetime, int]] = {}
        self._lock = threading.RLock()
        self._sync_lock = threading.Lock()
        self._synced_at = float("-inf")

    # --- keeping up with the database ----------------------------------------------------

    def refresh(self, *, miss: bool = False) -> None:
        """Re-read the source when the copy is stale (or, on a miss, almost at once)."""
        if self.source is None:
            return
        wait = MISS_REFRESH_SECONDS if miss else REFRESH_SECONDS
        with self._sync_lock:
            if time.monotonic() - self._synced_at < wait:
                return
            self.source(self)
            self._synced_at = time.monotonic()

    # --- accounts -------------------------------------------------------------------------

    def upsert_account(self, account: Account) -> Account:
        """Add or update an account; a bio set through ``set_bio`` is kept."""
        key = (account.platform, account.user_id)
        with self._lock:
            old = self.accounts.get(key)
            if old is not None:
                self._handles.pop((old.platform, old.handle.lower()), None)
            self.accounts[key] = account
            self._handles[(account.platform, account.handle.lower())] = account.user_id
            return account

    def account(self, platform: str, user_id: str) -> Account | None:
        with self._lock:
            found = self.accounts.get((platform, user_id))
            return self._with_bio(found) if found else None

    def by_handle(self, platform: str, handle: str, *, invent: bool = True) -> Account | None:
        """The account with this handle; an unknown but valid handle is made up on the spot.

        Making accounts up lets a newcomer enrol any handle in the demo. Handles starting with
        ``notfound`` never exist, so the platform's "not found" answer can be seen too.
        """
        bare = handle.strip().lstrip("@")
        key = (platform, bare.lower())
        with self._lock:
            user_id = self._handles.get(key)
            if user_id is not None:
                return self._with_bio(self.accounts[(platform, user_id)])
            if not invent or not _HANDLE.match(bare) or bare.lower().startswith(MISSING_PREFIX):
                return None
            return self._with_bio(self.upsert_account(invented_account(platform, bare)))

    def set_bio(self, platform: str, handle: str, text: str) -> Account:
        """Change an account's bio (X ``description``, Instagram ``biography``)."""
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}")
        account = self.by_handle(platform, handle)
        if account is None:
            raise KeyError(f"no {platform} account {handle!r}")
        with self._lock:
            self._bios[(platform, account.handle.lower())] = text
            return self._with_bio(account)

    def _with_bio(self, account: Account) -> Account:
        bio = self._bios.get((account.platform, account.handle.lower()))
        if bio is None:
            return account
        return Account(**{**account.__dict__, "bio": bio})

    def list_accounts(self, platform: str) -> list[Account]:
        with self._lock:
            found = [a for (p, _), a in self.accounts.items() if p == platform]
            return [self._with_bio(a) for a in sorted(found, key=lambda a: a.handle.lower())]

    # --- posts ----------------------------------------------------------------------------

    def add_post(self, post: Post) -> Post:
        """Add a post unless one with its id exists; returns the stored one."""
        key = (post.platform, post.post_id)
        with self._lock:
            stored = self.posts.setdefault(key, post)
            if stored.shortcode:
                self._shortcodes[stored.shortcode] = stored.post_id
            return stored

    def drop_post(self, platform: str, post_id: str) -> None:
        with self._lock:
            self.posts.pop((platform, post_id), None)

    def post(self, platform: str, post_id: str) -> Post | None:
        """The post if it exists now (not yet posted and deleted posts answer None)."""
        now = self.clock()
        with self._lock:
            found = self.posts.get((platform, post_id))
        if found is None:
            self.refresh(miss=True)
            with self._lock:
                found = self.posts.get((platform, post_id))
        return found if found is not None and found.visible(now) else None

    def media_id(self, shortcode: str) -> str | None:
        with self._lock:
            return self._shortcodes.get(shortcode)

    def referencing(
        self, wanted: Iterable[tuple[str, str]], since_id: int = 0, until_id: int | None = None
    ) -> list[Post]:
        """Visible X posts with one of the ``(kind, post id)`` references, newest first."""
        now = self.clock()
        pairs = set(wanted)
        with self._lock:
            found = [
                p
                for (platform, _), p in self.posts.items()
                if platform == "x" and pairs.intersection(p.references) and p.visible(now)
            ]
        found = [
            p
            for p in found
            if int(p.post_id) > since_id and (until_id is None or int(p.post_id) < until_id)
        ]
        return sorted(found, key=lambda p: int(p.post_id), reverse=True)

    def posts_by(self, platform: str, author_id: str) -> list[Post]:
        """An author's visible posts, newest first."""
        now = self.clock()
        with self._lock:
            found = [
                p
                for (plat, _), p in self.posts.items()
                if plat == platform and p.author_id == author_id and p.visible(now)
            ]
        return sorted(found, key=lambda p: p.created_at, reverse=True)

    # --- rate budgets ---------------------------------------------------------------------

    def take(self, bucket: str) -> Budget:
        """Spend one call of ``bucket``'s window (a refused call spends nothing)."""
        now = self.clock()
        with self._lock:
            start, used = self._windows.get(bucket, (now, 0))
            if now >= start + self.rate_window:
                start, used = now, 0
            allowed = used < self.rate_limit
            used += allowed
            self._windows[bucket] = (start, used)
        return Budget(allowed, self.rate_limit, self.rate_limit - used, start + self.rate_window)

    def usage(self) -> dict[str, Budget]:
        now = self.clock()
        with self._lock:
            windows = dict(self._windows)
        return {
            bucket: Budget(True, self.rate_limit, self.rate_limit - used, start + self.rate_window)
            for bucket, (start, used) in sorted(windows.items())
            if now < start + self.rate_window
        }

    # --- messengers -----------------------------------------------------------------------

    def record_message(self, channel: str, to: str, text: str) -> SentMessage:
        message = SentMessage(channel, to, text, self.clock())
        with self._lock:
            self.messages.append(message)
            del self.messages[:-500]  # a demo needs the latest few, not a mailbox
        return message

    def set_contacts(self, contacts: dict[tuple[str, str], str]) -> None:
        with self._lock:
            self.contacts = dict(contacts)

    def contact(self, channel: str, address: str) -> str | None:
        """Whose chat (Telegram) or number (WhatsApp, with or without "+") this is."""
        with self._lock:
            return self.contacts.get((channel, address.lstrip("+")))

    def record_mail(
        self, sender: str, recipients: tuple[str, ...], subject: str, text: str, html: str | None
    ) -> CaughtMail:
        with self._lock:
            number = self.mails[-1].id + 1 if self.mails else 1
            mail = CaughtMail(number, sender, recipients, subject, text, html, self.clock())
            self.mails.append(mail)
            del self.mails[:-500]
        return mail

    def caught_mail(self, mail_id: int) -> CaughtMail | None:
        with self._lock:
            return next((m for m in self.mails if m.id == mail_id), None)

    def snapshot_state(self) -> dict[str, Any]:
        """Counts for the sandbox page."""
        now = self.clock()
        with self._lock:
            posts = list(self.posts.values())
            accounts = len(self.accounts)
        return {
            "accounts": accounts,
            "posts": sum(p.visible(now) for p in posts),
            "upcoming": sum(p.created_at > now for p in posts),
            "deleted": sum(p.deleted_at is not None and p.deleted_at <= now for p in posts),
        }


def invented_account(platform: str, handle: str) -> Account:
    """A made-up account for a handle the sandbox has never seen, fixed by the handle."""
    numbers = rng("account", platform, handle.lower())
    user_id = {
        "x": str(1_500_000_000_000_000_000 + numbers.randrange(10**17)),
        "facebook": str(100_090_000_000_000 + numbers.randrange(10**12)),
        "instagram": str(6_000_000_000 + numbers.randrange(10**9)),
    }[platform]
    return Account(
        platform=platform,
        user_id=user_id,
        handle=handle,
        name=handle.replace("_", " ").replace(".", " ").title(),
        followers=numbers.randint(600, 12_000),
        # A made-up Facebook handle is a personal profile (unreadable by a Page token).
        public=platform != "facebook",
    )


WORLD = World()


def set_bio(platform: str, handle: str, text: str) -> Account:
    """Put ``text`` in the sandbox account's bio (e.g. an enrolment ownership code)."""
    return WORLD.set_bio(platform, handle, text)
