"""The ``ownership_check`` job: look an enrolled account up and look for its code.

Queued by roster.ownership.request_check when an ASN presses "check"; the platform is only
called here, never in a web request. A rate limit re-queues the item at the reset time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels.platforms import (
    AccountGone,
    ChannelError,
    NotConnected,
    RateLimited,
    SocialPlatform,
    Unverifiable,
    get_platform,
)
from kernel import queue
from roster import ownership
from roster.models import OwnershipCheck, OwnershipState, SocialAccount

JOB_KIND = ownership.JOB_KIND


def ownership_check(engine: Engine, payload: dict[str, Any]) -> None:
    with Session(engine, expire_on_commit=False) as session:
        run_check(session, int(payload["account_id"]))


def run_check(
    session: Session, account_id: int, platform: SocialPlatform | None = None
) -> str | None:
    """Check one account's code on its platform; returns the new state (None: nothing to do).

    Raises queue.RetryLater on a rate limit. Commits.
    """
    account = session.get(SocialAccount, account_id)
    check = ownership.checks_for(session, [account_id]).get(account_id)
    if account is None or check is None or check.state != OwnershipState.CHECKING:
        return None
    if account.ownership_verified_at is not None:
        return ownership.finish(session, check, OwnershipState.VERIFIED, ownership.DETAIL_VERIFIED)
    if ownership.is_expired(check):
        return ownership.finish(session, check, OwnershipState.NOT_FOUND, ownership.DETAIL_EXPIRED)
    try:
        channel = platform or get_platform(account.platform)
        if check.proof_url:
            state, detail = check_post(session, channel, account, check)
        else:
            state, detail = check_bio(session, channel, account, check)
    except RateLimited as exc:
        session.rollback()
        raise queue.RetryLater(exc.reset_at, str(exc)) from exc
    except (NotConnected, Unverifiable):
        state, detail = OwnershipState.MANUAL, ownership.DETAIL_MANUAL
    except AccountGone:
        state, detail = OwnershipState.ERROR, ownership.DETAIL_GONE
    except ChannelError:
        state, detail = OwnershipState.ERROR, ownership.DETAIL_ERROR
    return ownership.finish(session, check, state, detail)


def check_bio(
    session: Session, channel: SocialPlatform, account: SocialAccount, check: OwnershipCheck
) -> tuple[str, str]:
    info = channel.lookup_account(account.handle)
    if not ownership.code_found(check.code, info.bio):
        return OwnershipState.NOT_FOUND, ownership.DETAIL_NOT_IN_BIO
    return ownership.record_owner(session, account, info.user_id, info.followers)


def check_post(
    session: Session, channel: SocialPlatform, account: SocialAccount, check: OwnershipCheck
) -> tuple[str, str]:
    assert check.proof_url is not None
    post = channel.fetch_post(check.proof_url, author_handle=account.handle)
    if not ownership.code_found(check.code, post.text):
        return OwnershipState.NOT_FOUND, ownership.DETAIL_NOT_IN_POST
    # The post proves control of its author, which must be the enrolled account itself.
    owner = channel.lookup_account(account.handle)
    if post.author_id is None or post.author_id != owner.user_id:
        return OwnershipState.NOT_FOUND, ownership.DETAIL_WRONG_AUTHOR
    return ownership.record_owner(session, account, owner.user_id, owner.followers)
