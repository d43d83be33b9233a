"""Agencies (tenants): creating one, and its settings page (/console/agency).

Settings an agency leaves empty fall back to the instance's (settings.toml). A follower
minimum may only be stricter than the instance's: the instance's is the floor the
programme set, and roster.eligibility uses whichever is higher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, func
from sqlmodel import Session, select

from gaung import i18n
from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from gaung.settings import PLATFORM_NAMES, get_settings
from kernel import audit
from roster.models import Agency, Role, Unit, User

# Indonesia's three zones: the IANA name stored, the abbreviation people read.
TIMEZONES = i18n.ZONE_LABELS
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
TAG = re.compile(r"^#\w{1,59}$")
MAX_DEADLINE_HOURS = 24 * 60


def check_slug(slug: str) -> str:
    slug = slug.strip()
    if not SLUG.match(slug):
        raise GaungError(
            N_(
                "The short name may have lower-case letters, digits and hyphens "
                "(at most 64), e.g. kominfo."
            ),
            field="slug",
        )
    return slug


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise GaungError(N_("Enter the agency's name."), field="name")
    if len(name) > 200:
        raise GaungError(N_("The name may have at most 200 characters."), field="name")
    return name


def create_agency(session: Session, slug: str, name: str, actor: User | None = None) -> Agency:
    """A new agency (audited; no commit). GaungError when the slug is taken or malformed."""
    slug, name = check_slug(slug), check_name(name)
    if session.exec(select(Agency).where(Agency.slug == slug)).first() is not None:
        raise GaungError(
            N_("An agency with the short name %(slug)s exists."), field="slug", slug=slug
        )
    agency = Agency(slug=slug, name=name)
    session.add(agency)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="agency.created",
        entity="agency",
        entity_id=agency.id,
        agency_id=agency.id,
        detail=f"slug {slug}",
    )
    return agency


def zone_of(agency: Agency | None, unit: Unit | None = None) -> ZoneInfo:
    """The unit's time zone, else the agency's, else the instance's."""
    return i18n.zone((unit.timezone if unit else None) or (agency.timezone if agency else None))


def zone_label(zone: ZoneInfo) -> str:
    """WIB, WITA or WIT (another zone: its IANA name)."""
    return i18n.zone_label(zone)


def reader_zone(session: Session, agency_id: int | None, unit_id: int | None = None) -> str:
    """The IANA zone a person of this agency (and unit) reads times in."""
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    agency = session.get(Agency, agency_id) if agency_id is not None else None
    return zone_of(agency, unit).key


def asn_zone_column(asn: Table) -> ColumnElement[str | None]:
    """SQL: an ASN row's own zone (unit's, else agency's; NULL means the instance's)."""
    unit = Unit.__table__  # type: ignore[attr-defined]
    agency = Agency.__table__  # type: ignore[attr-defined]
    return func.coalesce(
        select(unit.c.timezone).where(unit.c.id == asn.c.unit_id).scalar_subquery(),
        select(agency.c.timezone).where(agency.c.id == asn.c.agency_id).scalar_subquery(),
    )


def local(moment: datetime, agency: Agency | None) -> tuple[datetime, str]:
    """A stored UTC time in the agency's zone, with the zone's label."""
    zone = zone_of(agency)
    return moment.astimezone(zone), zone_label(zone)


def min_followers(agency: Agency | None, platform: str) -> int:
    """The follower minimum in force for the agency: the stricter of its own and the instance's."""
    floor = get_settings().eligibility.minimum(platform)
    own = (agency.min_followers or {}).get(platform) if agency else None
    return max(floor, own) if isinstance(own, int) else floor


@dataclass
class AgencySettings:
    """What the settings form sends, as typed (strings), before checking."""

    name: str
    disclosure_tag: str = ""
    timezone: str = ""
    default_deadline_hours: str = ""
    min_followers: dict[str, str] = field(default_factory=dict)
    require_two_factor: bool = False


def _hours(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_DEADLINE_HOURS:
        raise GaungError(
            N_("The default deadline is a whole number of hours from 1 to %(max)s."),
            field="default_deadline_hours",
            max=MAX_DEADLINE_HOURS,
        )
    return int(value)


def _minimums(typed: dict[str, str]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    for platform in PLATFORM_NAMES:
        value = typed.get(platform, "").strip().replace(".", "")
        if not value:
            continue
        floor = get_settings().eligibility.minimum(platform)
        name = f"min_followers_{platform}"
        if not value.isdigit():
            raise GaungError(N_("Enter a whole number of followers."), field=name)
        if int(value) < floor:
            raise GaungError(
                N_(
                    "The minimum for %(platform)s may only be stricter than this "
                    "installation's (%(floor)s followers)."
                ),
                field=name,
                platform=PLATFORM_NAMES[platform],
                floor=floor,
            )
        if int(value) > floor:
            found[platform] = int(value)
    return found or None


def update_settings(
    session: Session,
    actor: User,
    form: AgencySettings,
    *,
    logo: str | None = None,
    remove_logo: bool = False,
) -> Agency:
    """The agency's admin changes its settings; validated, audited, committed.

    ``logo`` is a file already stored by content.media (the web layer saves the upload).
    """
    if not actor.active or actor.role != Role.ADMIN:
        raise ForbiddenError(N_("Your role does not allow this action."))
    agency = session.get(Agency, actor.agency_id)
    assert agency is not None
    name = check_name(form.name)
    tag = form.disclosure_tag.strip() or None
    if tag is not None and not TAG.match(tag):
        raise GaungError(
            N_("The disclosure tag is one hashtag such as #InfoResmiASN (letters, digits, _)."),
            field="disclosure_tag",
        )
    zone = form.timezone.strip() or None
    if zone is not None and zone not in TIMEZONES:
        raise GaungError(N_("Choose WIB, WITA or WIT."), field="timezone")
    hours = _hours(form.default_deadline_hours)
    minimums = _minimums(form.min_followers)
    before = _describe(agency)
    agency.name, agency.disclosure_tag, agency.timezone = name, tag, zone
    agency.default_deadline_hours, agency.min_followers = hours, minimums
    agency.require_two_factor = form.require_two_factor
    if logo is not None:
        agency.logo = logo
    elif remove_logo:
        agency.logo = None
    after = _describe(agency)
    changed = [f"{k}: {before[k]!r} -> {after[k]!r}" for k in after if before[k] != after[k]]
    session.add(agency)
    if changed:
        audit.record(
            session,
            actor=actor,
            action="agency.settings_changed",
            entity="agency",
            entity_id=agency.id,
            agency_id=agency.id,
            detail="; ".join(changed),
        )
    session.commit()
    return agency


def units(session: Session, agency_id: int) -> list[Unit]:
    return list(session.exec(select(Unit).where(Unit.agency_id == agency_id).order_by(Unit.name)))


def set_unit_zone(session: Session, actor: User, unit_id: int, zone: str) -> Unit:
    """A unit in another zone than its agency (a regional office); "" = the agency's. Audited."""
    if not actor.active or actor.role != Role.ADMIN:
        raise ForbiddenError(N_("Your role does not allow this action."))
    unit = session.get(Unit, unit_id)
    if unit is None or unit.agency_id != actor.agency_id:
        raise NotFoundError(N_("This unit does not exist."))
    chosen = zone.strip() or None
    if chosen is not None and chosen not in TIMEZONES:
        raise GaungError(N_("Choose WIB, WITA or WIT."), field="timezone")
    if chosen != unit.timezone:
        audit.record(
            session,
            actor=actor,
            action="unit.zone_changed",
            entity="unit",
            entity_id=unit.id,
            agency_id=unit.agency_id,
            detail=f"{unit.timezone!r} -> {chosen!r}",
        )
        unit.timezone = chosen
        session.add(unit)
    session.commit()
    return unit


def _describe(agency: Agency) -> dict[str, object]:
    return {
        "name": agency.name,
        "disclosure_tag": agency.disclosure_tag,
        "timezone": agency.timezone,
        "default_deadline_hours": agency.default_deadline_hours,
        "min_followers": dict(agency.min_followers or {}),
        "require_two_factor": agency.require_two_factor,
        "logo": agency.logo,
    }
