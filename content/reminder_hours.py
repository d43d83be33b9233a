"""A campaign's reminder times: "24,3" means 24 and 3 hours before its deadline."""

from __future__ import annotations

import logging

from gaung.errors import N_, GaungError
from gaung.settings import get_settings

log = logging.getLogger(__name__)

MAX_HOURS = 30 * 24  # a reminder more than 30 days ahead is a typo
MAX_TIMES = 5


def parse_hours(text: str | None, *, field: str = "reminder_hours") -> tuple[int, ...]:
    """ "24, 3" -> (24, 3): distinct whole hours from 1 to 720, at most 5, largest first.

    "0" (or nothing) gives no reminders. Raises GaungError naming the bad value.
    """
    hours: set[int] = set()
    for part in (text or "").replace(";", ",").split(","):
        value = part.strip().lower().removesuffix("h").strip()
        if not value or value == "0":
            continue
        if not value.isdigit() or not 1 <= int(value) <= MAX_HOURS:
            raise GaungError(
                N_("“%(value)s” is not a number of hours from 1 to %(limit)s."),
                field=field,
                value=part.strip(),
                limit=MAX_HOURS,
            )
        hours.add(int(value))
    if len(hours) > MAX_TIMES:
        raise GaungError(
            N_("At most %(limit)s reminder times; you entered %(actual)s."),
            field=field,
            limit=MAX_TIMES,
            actual=len(hours),
        )
    return tuple(sorted(hours, reverse=True))


def normalise_hours(text: str | None) -> str | None:
    """The stored form of a campaign's reminder times: "24,3"; "0" = none; None = the default."""
    if text is None or not text.strip():
        return None
    return ",".join(str(h) for h in parse_hours(text)) or "0"


def default_hours() -> tuple[int, ...]:
    try:
        return parse_hours(get_settings().reminders.default_hours)
    except GaungError:
        log.error("settings reminders.default_hours is invalid; no default reminders")
        return ()


def hours_for(campaign_hours: str | None) -> tuple[int, ...]:
    """A campaign's reminder times: its own, else the default from settings."""
    if campaign_hours is None:
        return default_hours()
    try:
        return parse_hours(campaign_hours)
    except GaungError:
        return default_hours()
