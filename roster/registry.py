"""The public registry: is this account an official ASN influencer, of which agency, since when.

Anyone may ask, without signing in, so the answer says nothing personal: no name, no NIP,
no unit, no follower count. An account is listed while its ASN is ACTIVE and its
ownership is verified; a pending, suspended or departed person's account is simply "not
listed", like an unknown one, so the registry reveals no status either.

Each listed account has a badge image (SVG, drawn here) and a registry entry link to put in
its bio. A look-up is one indexed query (social_account.handle), so the pages need no rate
limit of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from markupsafe import escape
from sqlmodel import Session, col, select

from gaung import i18n
from gaung.errors import N_, GaungError
from gaung.fields import handle_key, normalise_handle
from gaung.settings import PLATFORMS, get_settings
from kernel.limits import display_name
from roster.models import Agency, Asn, AsnStatus, SocialAccount


@dataclass(frozen=True)
class RegistryEntry:
    platform: str
    handle: str
    agency_name: str
    agency_slug: str
    since: datetime


def parse_query(platform: str, value: str) -> tuple[str, str]:
    """(platform, handle) from a form; GaungError (field ``handle``) when unusable."""
    if platform not in PLATFORMS:
        raise GaungError(N_("Choose a platform."), field="platform")
    try:
        return platform, normalise_handle(platform, value)
    except GaungError as exc:
        raise GaungError(exc.message, field="handle", **exc.params) from None


def lookup(session: Session, platform: str, handle: str) -> RegistryEntry | None:
    """The entry of a listed account, else None (unknown, or not active and verified)."""
    row = session.exec(
        select(SocialAccount, Asn, Agency)
        .join(Asn, col(Asn.id) == col(SocialAccount.asn_id))
        .join(Agency, col(Agency.id) == col(Asn.agency_id))
        .where(
            SocialAccount.handle == handle_key(handle),
            SocialAccount.platform == platform,
            Asn.status == AsnStatus.ACTIVE,
            col(SocialAccount.ownership_verified_at).is_not(None),
        )
    ).first()
    if row is None:
        return None
    account, asn, agency = row
    assert account.ownership_verified_at is not None
    # Official from when both were true: the account proven and the person approved.
    since = max(account.ownership_verified_at, asn.approved_at or account.ownership_verified_at)
    return RegistryEntry(platform, account.handle, agency.name, agency.slug, since)


def entry_path(platform: str, handle: str) -> str:
    return f"/registry/{platform}/{handle}"


def entry_url(platform: str, handle: str) -> str:
    return get_settings().base_url.rstrip("/") + entry_path(platform, handle)


def badge_path(platform: str, handle: str) -> str:
    return f"/registry/badge/{platform}/{handle}.svg"


# --- the badge -----------------------------------------------------------------------------

_GOOD, _BAD, _LABEL_BG = "#17703a", "#8a5a00", "#1b1f24"
_HEIGHT = 28
_SHOWN_MAX = 60
# Control characters (XML 1.0 cannot carry most; a badge URL may hold anything).
_NOT_XML = re.compile("[^\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _shown(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)[:_SHOWN_MAX]


def _text_width(text: str) -> int:
    """A generous estimate of the rendered width (11px sans-serif), so text never spills."""
    return int(sum(8.0 if ch.isupper() or ch in "mwMW@" else 7.0 for ch in text)) + 16


def badge_svg(entry: RegistryEntry | None, platform: str, handle: str) -> str:
    """A two-part badge: "Gaung · @handle" and the verdict, in the current locale."""
    label = _shown(f"{display_name(platform)} @{handle}")
    if entry is not None:
        agency = _shown(entry.agency_slug.upper())
        verdict = i18n.gettext("Official ASN · %(agency)s") % {"agency": agency}
        colour = _GOOD
    else:
        verdict = i18n.gettext("Not an official ASN account")
        colour = _BAD
    left, right = _text_width(label), _text_width(verdict)
    width = left + right
    title = f"{label}: {verdict}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{left}" height="{_HEIGHT}" rx="4" fill="{_LABEL_BG}"/>'
        f'<rect x="{left}" width="{right}" height="{_HEIGHT}" rx="4" fill="{colour}"/>'
        f'<rect x="{left - 4}" width="8" height="{_HEIGHT}" fill="{colour}"/>'
        '<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="8" y="18">{escape(label)}</text>'
        f'<text x="{left + 8}" y="18">{escape(verdict)}</text>'
        "</g></svg>"
    )
