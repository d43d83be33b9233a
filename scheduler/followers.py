"""Follower counts of enrolled accounts: a daily refresh in batches, and one account on demand.

Eligibility (roster.eligibility) and potential reach use ``SocialAccount.followers``; this keeps
them current and stamps ``followers_at`` with the date of the count.

- X: the users lookup takes 100 ids per call, so the daily refresh costs one call per 100
  accounts. Accounts are selected by id, stale ones only (not counted since the period began),
  and every batch commits on its own: a rate limit reschedules the job at the reset time and
  the retry carries on where it stopped.
- Instagram: business discovery, one call per account (professional accounts only; personal
  ones are ``Unverifiable`` and keep their last count).
- Facebook: Graph cannot read a personal profile, so there is no scheduled refresh; a Page can
  still be refreshed on demand.

The daily item is keyed by its period (``followers@2026-11-23T19:00:00+00:00``), so it runs
once across the cluster however many workers tick (kernel.recurring). Humas's "refresh"
button queues ``followers_account`` for one account; no platform is called inside a request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from assignments.metrics import Purpose, channel_calls, count_calls
from channels.platforms import (
    AccountGone,
    AccountInfo,
    AuthError,
    ChannelError,
    NotConnected,
    RateLimited,
    SocialPlatform,
    Unverifiable,
    get_platform,
)
from gaung.db import utcnow
from kernel import queue
from kernel.models import WorkItem
from kernel.recurring import Recurring
from roster.models import Asn, AsnStatus, SocialAccount

log = logging.getLogger(__name__)

EVERY = timedelta(days=1)
AT = timedelta(hours=19)  # 19:00 UTC = 02:00 WIB, when nobody is reposting
X_BATCH = 100  # ids per X users lookup
PER_ACCOUNT_BATCH = 20  # Instagram lookups committed together
SCHEDULED = ("x", "instagram")  # Facebook: personal profiles are unreadable (module notes)
_CURRENT = (AsnStatus.ACTIVE, AsnStatus.PENDING, AsnStatus.SUSPENDED)

Platforms = Mapping[str, SocialPlatform]


@dataclass
class RefreshResult:
    accounts: int = 0  # looked up
    updated: int = 0  # stored with a new date
    missing: int = 0  # gone, suspended or unreadable: last count kept
    api_calls: int = 0


def next_refresh(now: datetime) -> datetime:
    """When the daily refresh next starts after ``now`` (the inbox tells people under the
    minimum when their count is read again)."""
    return Recurring("followers", EVERY, AT).period_start(now) + EVERY


def followers_job(engine: Engine, payload: dict[str, Any]) -> None:
    refresh_all(engine, since=datetime.fromisoformat(str(payload["period"])))


def followers_account_job(engine: Engine, payload: dict[str, Any]) -> None:
    refresh_account(engine, int(payload["account_id"]))


def request_refresh(session: Session, account: SocialAccount) -> WorkItem:
    """Queue a refresh of one account (the console's button), at most one per minute."""
    assert account.id is not None
    now = utcnow()
    return queue.enqueue(
        session,
        kind="followers_account",
        key=f"followers:account:{account.id}:{now.strftime('%Y%m%dT%H%M')}",
        payload={"account_id": account.id},
        run_at=now,
    )


def refresh_all(
    engine: Engine, *, since: datetime, platforms: Platforms | None = None
) -> dict[str, RefreshResult]:
    """Refresh every account not counted since ``since``, platform by platform."""
    results: dict[str, RefreshResult] = {}
    for slug in SCHEDULED:
        channel = (platforms or {}).get(slug) or get_platform(slug)
        if not channel.connected():
            log.info("follower refresh: %s is not connected, skipped", slug)
            continue
        results[slug] = RefreshResult()
        try:
            _refresh_platform(engine, channel, since, results[slug])
        except AuthError as exc:
            log.warning("follower refresh on %s stopped: %s", slug, exc)
        log.info("follower refresh on %s: %s", slug, results[slug])
    return results


def _stale(platform: str, since: datetime, after_id: int, limit: int) -> Any:
    return (
        select(SocialAccount)
        .join(Asn, col(Asn.id) == col(SocialAccount.asn_id))
        .where(
            col(SocialAccount.platform) == platform,
            col(SocialAccount.id) > after_id,
            col(SocialAccount.platform_user_id).is_not(None),
            col(Asn.status).in_(_CURRENT),
            or_(col(SocialAccount.followers_at).is_(None), col(SocialAccount.followers_at) < since),
        )
        .order_by(col(SocialAccount.id))
        .limit(limit)
    )


def _refresh_platform(
    engine: Engine, channel: SocialPlatform, since: datetime, result: RefreshResult
) -> None:
    batch = X_BATCH if hasattr(channel, "lookup_accounts") else PER_ACCOUNT_BATCH
    after = 0
    while True:
        with Session(engine, expire_on_commit=False) as session:
            accounts = list(session.exec(_stale(channel.slug, since, after, batch)))
        if not accounts:
            return
        _refresh_batch(engine, channel, accounts, result)
        after = accounts[-1].id or after


def _refresh_batch(
    engine: Engine,
    channel: SocialPlatform,
    accounts: Sequence[SocialAccount],
    result: RefreshResult,
) -> None:
    before = channel_calls(channel)
    try:
        found = _look_up(channel, accounts)
    except RateLimited as exc:
        _bill(engine, channel.slug, channel_calls(channel) - before, result)
        raise queue.RetryLater(exc.reset_at, str(exc)) from exc
    except (AuthError, ChannelError):
        _bill(engine, channel.slug, channel_calls(channel) - before, result)
        raise
    calls = channel_calls(channel) - before
    with Session(engine) as session, session.begin():
        for account in accounts:
            info = found.get(account.id or 0)
            if info is None or info.followers is None:
                result.missing += 1
                continue
            _store(session, account.id or 0, info.followers)
            result.updated += 1
        count_calls(session, platform=channel.slug, purpose=Purpose.FOLLOWERS, calls=calls)
    result.accounts += len(accounts)
    result.api_calls += calls


def _look_up(channel: SocialPlatform, accounts: Sequence[SocialAccount]) -> dict[int, AccountInfo]:
    """Account id → what the platform says now; absent when gone or unreadable."""
    found: dict[int, AccountInfo] = {}
    batch_lookup = getattr(channel, "lookup_accounts", None)
    by_id = [a for a in accounts if a.platform_user_id] if batch_lookup else []
    if by_id:
        assert batch_lookup is not None
        users: dict[str, AccountInfo] = batch_lookup([a.platform_user_id for a in by_id])
        found = {a.id or 0: users[a.platform_user_id] for a in by_id if a.platform_user_id in users}
    done = {a.id for a in by_id}
    for account in accounts:
        if account.id in done:
            continue
        try:
            found[account.id or 0] = channel.lookup_account(account.handle)
        except (AccountGone, Unverifiable, NotConnected) as exc:
            log.info("followers of %s account %s not readable: %s", channel.slug, account.id, exc)
    return found


def _store(session: Session, account_id: int, followers: int) -> None:
    account = session.get(SocialAccount, account_id)
    if account is not None:
        account.followers = followers
        account.followers_at = utcnow()
        session.add(account)


def _bill(engine: Engine, platform: str, calls: int, result: RefreshResult) -> None:
    result.api_calls += max(calls, 0)
    with Session(engine) as session, session.begin():
        count_calls(session, platform=platform, purpose=Purpose.FOLLOWERS, calls=calls)


def refresh_account(
    engine: Engine, account_id: int, *, platforms: Platforms | None = None
) -> RefreshResult:
    """Refresh one account now (queued by Humas); errors other than a rate limit are logged."""
    with Session(engine, expire_on_commit=False) as session:
        account = session.get(SocialAccount, account_id)
    result = RefreshResult()
    if account is None:
        return result
    channel = (platforms or {}).get(account.platform) or get_platform(account.platform)
    if not channel.connected():
        log.info("follower refresh of account %s: %s not connected", account_id, channel.slug)
        return result
    try:
        _refresh_batch(engine, channel, [account], result)  # a rate limit: RetryLater
    except ChannelError as exc:  # an expired token, network trouble: Humas may press again
        log.warning("follower refresh of account %s failed: %s", account_id, exc)
    return result
