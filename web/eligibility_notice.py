"""The inbox notice: why an active ASN gets no assignments on a platform, and what happens next.

The reasons come from roster.eligibility.standings, the same rules the dispatcher applies, so
the notice cannot say "eligible" while dispatch skips the account or the other way round.
Times are shown in the agency's zone with its label (WIB, WITA, WIT).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from gaung import i18n
from gaung.db import utcnow
from gaung.errors import N_
from gaung.settings import PLATFORMS
from kernel.limits import display_name
from roster import eligibility
from roster.agencies import zone_of
from roster.eligibility import AccountStanding, Standing
from roster.models import Agency, Asn, Unit
from scheduler import followers

_ = i18n.gettext


@dataclass(frozen=True)
class Notice:
    platform: str
    reason: str  # a Standing value, for the page's class names
    text: str
    next_step: str
    verify_link: bool  # point to /inbox/accounts, where the ownership code is


@dataclass(frozen=True)
class EligibilityNotice:
    items: list[Notice]
    none_eligible: bool  # every account gets nothing: the heading says so


def when_text(moment: datetime, where: ZoneInfo) -> str:
    """E.g. "6 Desember 2026 02.00 WIB": in the reader's zone, named."""
    return i18n.format_datetime(moment, "d MMMM y HH:mm", where)


def _item(standing: AccountStanding, when: str) -> Notice:
    values = {
        "platform": display_name(standing.platform),
        "handle": standing.handle,
        "count": i18n.format_number(standing.followers),
        "minimum": i18n.format_number(standing.minimum),
        "when": when,
    }
    if standing.standing == Standing.NOT_VERIFIED:
        text = N_(
            "Your %(platform)s account @%(handle)s is not verified yet, so it gets no "
            "assignments. Put your one-time code in its bio and press Check."
        )
        return Notice(standing.platform, standing.standing, _(text) % values, "", True)
    if standing.standing == Standing.NO_CONSENT:
        text = N_("Humas has no record of your consent, so Gaung sends you no assignments.")
        next_step = _("Ask Humas to record it.")
        return Notice(standing.platform, standing.standing, _(text), next_step, False)
    if standing.standing == Standing.NO_COUNT:
        text = N_(
            "We have not read the follower count of your %(platform)s account @%(handle)s "
            "yet. Assignments on %(platform)s go to accounts with at least %(minimum)s followers."
        )
    else:
        text = N_(
            "Your %(platform)s account @%(handle)s has %(count)s followers. Assignments on "
            "%(platform)s go to accounts with at least %(minimum)s followers."
        )
    if standing.platform in followers.SCHEDULED:
        next_step = N_("Followers are counted again on %(when)s.")
    else:
        next_step = N_(
            "%(platform)s follower counts are not read automatically: when yours has grown, "
            "ask Humas to update it."
        )
    return Notice(
        standing.platform, standing.standing, _(text) % values, _(next_step) % values, False
    )


def for_asn(session: Session, asn: Asn) -> EligibilityNotice | None:
    """What to tell the ASN, or None when every account of theirs receives assignments."""
    assert asn.id is not None
    found = eligibility.standings(session, agency_id=asn.agency_id, asn_ids=[asn.id])
    order = {platform: n for n, platform in enumerate(PLATFORMS)}
    missing = sorted(
        (s for s in found.values() if s.standing in eligibility.NOT_ELIGIBLE),
        key=lambda s: order.get(s.platform, 99),
    )
    if not missing:
        return None
    where = zone_of(session.get(Agency, asn.agency_id), session.get(Unit, asn.unit_id))
    when = when_text(followers.next_refresh(utcnow()), where)
    if any(s.standing == Standing.NO_CONSENT for s in missing):  # one line says it all
        missing = [next(s for s in missing if s.standing == Standing.NO_CONSENT)]
    return EligibilityNotice(
        items=[_item(s, when) for s in missing],
        none_eligible=not any(s.eligible for s in found.values()),
    )
