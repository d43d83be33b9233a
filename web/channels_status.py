"""Console panel "Channels: status": which platforms are connected and what falls back.

Read-only, for admins and editors. "Connected" means credentials are configured
(channels.platforms.status(); no network call is made to draw the page), "sandbox" that the
channel talks to the local demo fake. Beside each platform: what Gaung does with it, what it
falls back to without it, the API calls spent, and how fresh the follower counts are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from assignments import problems
from assignments.evidence import VerifyCursor
from assignments.metrics import NO_CAMPAIGN, ApiUsage, Purpose
from channels import platforms, sandbox
from content.models import Campaign
from gaung.db import get_session, utcnow
from gaung.errors import N_
from gaung.i18n import gettext as _
from kernel.limits import display_name
from roster.models import Asn, Role, SocialAccount, User
from roster.operators import is_operator
from scheduler.followers import SCHEDULED
from web.deps import render, require_role

router = APIRouter(prefix="/console", include_in_schema=False)
panel_reader = require_role(Role.EDITOR)  # admin is always allowed

USAGE_DAYS = 30
FRESH = timedelta(days=2)  # the daily refresh plus a day's slack

USES = {
    "x": N_(
        "Finds reposts and quotes of each official post with one paged search per post, checks "
        "reported links, measures verified reposts at 1 h, 24 h and 72 h and refreshes follower "
        "counts daily (100 accounts per call)."
    ),
    "facebook": N_(
        "Checks reported links where the token can see the post and measures the agency's own "
        "Page posts. Graph cannot list who shared a post or read personal profiles."
    ),
    "instagram": N_(
        "Reads professional accounts (follower counts, recent posts) and measures the agency's "
        "own media. Personal accounts are not visible to the official API."
    ),
}
FALLBACKS = {
    "x": N_(
        "Reported links are checked through X's public embed (author and text, no metrics); "
        "reposts that were not reported are not found; follower counts stay as enrolled."
    ),
    "facebook": N_('Reported links stay "reported, unverified"; tracked-link clicks count.'),
    "instagram": N_(
        'Reported links stay "reported, unverified"; tracked-link clicks count; follower '
        "counts stay as enrolled."
    ),
}


@dataclass
class PlatformStatus:
    slug: str
    name: str
    state: str  # connected | sandbox | not_connected
    uses: str
    fallback: str
    verification_calls: int = 0  # all time, this agency's campaigns
    metrics_calls: int = 0  # last USAGE_DAYS days, this agency's campaigns
    follower_calls: int = 0  # last USAGE_DAYS days, the whole installation
    accounts: int = 0
    fresh: int = 0  # counted within FRESH
    last_counted: datetime | None = None
    refreshed_daily: bool = False


def _state(slug: str, connected: bool) -> str:
    if connected and sandbox.sandboxed(slug):
        return "sandbox"
    return "connected" if connected else "not_connected"


def _calls(session: Session, agency_id: int, since: datetime) -> dict[tuple[str, str], int]:
    """(platform, purpose) → calls: this agency's campaigns, plus roster-wide work."""
    mine = select(Campaign.id).where(Campaign.agency_id == agency_id)
    query = (
        select(ApiUsage.platform, ApiUsage.purpose, func.sum(ApiUsage.calls))
        .where(
            col(ApiUsage.day) >= since.date(),
            col(ApiUsage.campaign_id).in_(mine) | (col(ApiUsage.campaign_id) == NO_CAMPAIGN),
        )
        .group_by(col(ApiUsage.platform), col(ApiUsage.purpose))
    )
    calls = {(p, purpose): int(n or 0) for p, purpose, n in session.exec(query)}
    verification = (
        select(VerifyCursor.platform, func.sum(VerifyCursor.api_calls))
        .where(col(VerifyCursor.campaign_id).in_(mine))
        .group_by(col(VerifyCursor.platform))
    )
    for platform, n in session.exec(verification):
        calls[(platform, "verification")] = int(n or 0)
    return calls


def _followers(session: Session, agency_id: int, now: datetime) -> dict[str, tuple[int, int, Any]]:
    """platform → (accounts, counted within FRESH, newest count time) for the agency."""
    recent = col(SocialAccount.followers_at) >= now - FRESH
    query = (
        select(
            SocialAccount.platform,
            func.count(),
            func.sum(case((recent, 1), else_=0)),
            func.max(SocialAccount.followers_at),
        )
        .join(Asn, col(Asn.id) == col(SocialAccount.asn_id))
        .where(Asn.agency_id == agency_id)
        .group_by(col(SocialAccount.platform))
    )
    return {p: (int(n), int(fresh or 0), last) for p, n, fresh, last in session.exec(query)}


def statuses(session: Session, user: User) -> list[PlatformStatus]:
    now = utcnow()
    calls = _calls(session, user.agency_id, now - timedelta(days=USAGE_DAYS))
    followers = _followers(session, user.agency_id, now)
    rows = []
    for slug, connected in platforms.status().items():
        accounts, fresh, last = followers.get(slug, (0, 0, None))
        rows.append(
            PlatformStatus(
                slug=slug,
                name=display_name(slug),
                state=_state(slug, connected),
                uses=_(USES[slug]) if slug in USES else "",
                fallback=_(FALLBACKS[slug]) if slug in FALLBACKS else "",
                verification_calls=calls.get((slug, "verification"), 0),
                metrics_calls=calls.get((slug, Purpose.METRICS), 0),
                follower_calls=calls.get((slug, Purpose.FOLLOWERS), 0),
                accounts=accounts,
                fresh=fresh,
                last_counted=last,
                refreshed_daily=slug in SCHEDULED,
            )
        )
    return rows


@router.get("/channels")
def channel_status(
    request: Request, user: User = Depends(panel_reader), session: Session = Depends(get_session)
) -> Response:
    context = {
        "platforms": statuses(session, user),
        "problems": problems.for_agency(session, user.agency_id),
        "usage_days": USAGE_DAYS,
        "fresh_days": FRESH.days,
        "operator": is_operator(session, user),
    }
    return render(request, "console/channels.html", context)
