"""Checks shared by the campaign services (content.workflow, content.offers): roles, text,
times, units and the platforms' limits. Each raises a GaungError naming the field."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from content import variants as post_variants
from content.models import Campaign, Post
from content.rendering import disclosure_tag_for, validate
from gaung.db import utcnow
from gaung.errors import N_, ForbiddenError, GaungError
from gaung.text import clean_text
from roster.models import Agency, Role, Unit, User

# A time typed as "now" is a minute or two old by the time it arrives; older is the past.
PAST_GRACE = timedelta(minutes=5)


def require_role(actor: User, roles: frozenset[Role]) -> None:
    if not actor.active or actor.role not in roles:
        raise ForbiddenError("Your role does not allow this action.")


def aware(value: datetime) -> datetime:
    """Stored times are UTC; a naive time from a caller is taken to be UTC already."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def text(value: str, field: str) -> str:
    """Stripped text a database column can hold (no control characters, valid Unicode)."""
    value = clean_text(value, field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        message = N_("The text contains characters that cannot be stored.")
        raise GaungError(message, field=field) from None
    return value


def not_past(value: datetime, field: str, previous: datetime | None = None) -> datetime:
    """``value`` (aware) unless it is in the past; an unchanged stored time is kept as it is.

    "Unchanged" allows for the minute a datetime-local form field rounds the stored time to.
    """
    value = aware(value)
    if previous is not None and abs(value - aware(previous)) < timedelta(minutes=1):
        return value
    if value < utcnow() - PAST_GRACE:
        messages = {
            "starts_at": N_("The start is in the past; choose a time from now on."),
            "deadline": N_("The deadline is in the past; choose a time from now on."),
            "scheduled_at": N_(
                "The send time is in the past; choose a time from now on, "
                "or leave it empty to send once approved."
            ),
        }
        raise GaungError(messages.get(field, N_("This time is in the past.")), field=field)
    return value


def validate_for_platforms(session: Session, post: Post, campaign: Campaign) -> None:
    """Every text of every platform (master, own texts, alternatives) fits its limits."""
    agency = session.get(Agency, campaign.agency_id)
    assert agency is not None  # foreign key
    validate(
        post,
        kind=campaign.kind,
        disclosure_tag=disclosure_tag_for(agency),
        variants=post_variants.load(session, post.id),
    )


def check_units(session: Session, actor: User, unit_ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(unit_ids))
    if not wanted:
        return []
    found = session.exec(
        select(Unit.id).where(col(Unit.id).in_(wanted), Unit.agency_id == actor.agency_id)
    ).all()
    if len(found) != len(wanted):
        raise GaungError("One of the chosen units is not in your agency.", field="unit_ids")
    return wanted
