"""Translations (gettext catalogs via Babel) and locale-aware formatting.

msgids are English; ``locale/id`` translates them to Bahasa Indonesia, the default.
The current locale lives in a context variable so one Jinja2 environment serves
every request in its reader's language.

Times people read are shown in *their* zone, named, without seconds ("7 Des 2026 07.00
WIB"): :func:`format_datetime` is the one function that does it. The zone is the
reader's (unit, then agency, then the instance's ``timezone`` setting): given as an
argument, else the one :func:`use_zone` set, else the instance's. The Jinja ``datetime``
and ``date`` filters take it from the template context (``reader_zone``, which
``web.deps.render`` sets per request from the signed-in person).
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import lru_cache
from io import BytesIO
from typing import Literal, cast
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.dates import format_time as _format_time
from babel.dates import get_datetime_format
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.units import format_unit

from gaung.settings import PROJECT_ROOT, get_settings

LOCALES = ("id", "en")
LOCALE_DIR = PROJECT_ROOT / "locale"
_current: ContextVar[str | None] = ContextVar("gaung_locale", default=None)
_zone: ContextVar[str | None] = ContextVar("gaung_zone", default=None)
# Indonesia's three zones: the IANA name stored, the abbreviation people read.
ZONE_LABELS = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
NAMED_FORMATS = ("short", "medium", "long", "full")
Zone = ZoneInfo | str | None


@lru_cache
def translations(locale: str) -> _gettext.NullTranslations:
    """Compile the .po catalog in memory, so there is no stale .mo to forget."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return _gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def get_locale() -> str:
    return _current.get() or get_settings().default_locale


@lru_cache(maxsize=256)  # every request asks (Accept-Language); parsing a tag is not free
def coerce_locale(value: str | None) -> str | None:
    """A supported locale for a tag like 'en-US' or 'id_ID', else None."""
    if not value:
        return None
    try:
        language = Locale.parse(value.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        return None
    return language if language in LOCALES else None


def negotiate(accept_language: str | None) -> str:
    """Pick a locale from an Accept-Language header, falling back to the default."""
    for part in (accept_language or "").split(","):
        found = coerce_locale(part.split(";")[0].strip())
        if found:
            return found
    return get_settings().default_locale


@contextmanager
def use_locale(locale: str | None) -> Iterator[None]:
    token = _current.set(coerce_locale(locale) or get_settings().default_locale)
    try:
        yield
    finally:
        _current.reset(token)


def set_locale(locale: str | None) -> None:
    _current.set(coerce_locale(locale) or get_settings().default_locale)


def gettext(message: str) -> str:
    return translations(get_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(get_locale()).ngettext(singular, plural, n)


_ = gettext


@lru_cache(maxsize=64)
def _zone_info(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone(value: Zone = None) -> ZoneInfo:
    """The zone given (a ZoneInfo or IANA name), else the one in use, else the instance's."""
    if isinstance(value, ZoneInfo):
        return value
    return _zone_info(value or _zone.get() or get_settings().timezone)


def zone_label(value: Zone = None) -> str:
    """WIB, WITA or WIT (another zone: its IANA name)."""
    key = zone(value).key
    return ZONE_LABELS.get(key, key)


@contextmanager
def use_zone(value: Zone) -> Iterator[None]:
    """Format times in this zone (None: the instance's) inside the block."""
    token = _zone.set(zone(value).key)
    try:
        yield
    finally:
        _zone.reset(token)


def local_time(value: datetime, tz: Zone = None) -> datetime:
    """A stored UTC datetime (naive means UTC) in the reader's zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone(tz))


def format_date(value: date | datetime, fmt: str = "long", tz: Zone = None) -> str:
    """E.g. "17 Agustus 2026" in id, "August 17, 2026" in en (a datetime: its day in the zone)."""
    if isinstance(value, datetime):
        value = local_time(value, tz).date()
    return _format_date(value, format=fmt, locale=get_locale())


def format_datetime(value: datetime, fmt: str = "medium", tz: Zone = None) -> str:
    """A time as people read it: in the reader's zone, named, to the minute.

    ``fmt`` is short, medium, long or full (the locale's date of that length and its
    short time: "7 Des 2026 07.00 WIB", "Dec 7, 2026, 7:00 AM WIB") or a Babel pattern
    ("HH:mm" gives "07:00 WIB"); the zone's name always follows.
    """
    where = zone(tz)
    there = local_time(value, where)
    locale = get_locale()
    if fmt in NAMED_FORMATS:
        named = cast(Literal["full", "long", "medium", "short"], fmt)
        pattern = str(get_datetime_format(named, locale=locale)).replace("'", "")
        time_text = _format_time(there, "short", tzinfo=there.tzinfo, locale=locale)
        date_text = _format_date(there.date(), format=named, locale=locale)
        shown = pattern.replace("{0}", time_text).replace("{1}", date_text)
    else:
        shown = _format_datetime(there, format=fmt, tzinfo=there.tzinfo, locale=locale)
    return f"{shown} {zone_label(where)}"


@jinja2.pass_context
def _datetime_filter(
    context: jinja2.runtime.Context, value: datetime | str, fmt: str = "medium"
) -> str:
    # Exports hold ISO 8601 strings (JSON); pages show them like any other time.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_datetime(moment, fmt, context.get("reader_zone"))


@jinja2.pass_context
def _date_filter(context: jinja2.runtime.Context, value: date | datetime, fmt: str = "long") -> str:
    return format_date(value, fmt, context.get("reader_zone"))


def format_number(value: float | int) -> str:
    """E.g. "1.234.567" in id, "1,234,567" in en."""
    return format_decimal(value, locale=get_locale())


def format_ratio(value: float) -> str:
    return format_percent(value, format="#,##0.0%", locale=get_locale())


def format_money(value: float, currency: str = "IDR") -> str:
    """E.g. "Rp356.650.000" in id: whole Rupiah, as people read a bill."""
    return format_currency(
        round(value), currency, locale=get_locale(), format="¤#,##0", currency_digits=False
    )


_DURATION_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def format_duration(seconds: float) -> str:
    """A duration in words, its two largest units, rounded up: "9 jam, 15 menit", "1 day,
    4 hours" (for 1 day 3 h 48 min: an estimate of when work ends never reads early).
    """
    left = max(0, int(-(-seconds // 1)))  # whole seconds, rounded up
    locale = get_locale()

    def words(amount: int, unit: str) -> str:
        return format_unit(amount, f"duration-{unit}", length="long", locale=locale)

    for n, (unit, size) in enumerate(_DURATION_UNITS):
        if left < size and unit != "second":
            continue
        if unit == "second":
            return words(left, unit)
        smaller, small_size = _DURATION_UNITS[n + 1]
        first, rest = divmod(left, size)
        second = -(-rest // small_size)  # rounded up
        if second * small_size == size:
            first, second = first + 1, 0
        if not second:
            return words(first, unit)
        return format_list(
            [words(first, unit), words(second, smaller)], style="unit", locale=locale
        )
    return words(0, "second")


def install(env: jinja2.Environment) -> None:
    """Give a Jinja2 environment _(), ngettext and the locale-aware filters."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True
    )
    env.globals["get_locale"] = get_locale
    env.filters["date"] = _date_filter
    env.filters["datetime"] = _datetime_filter
    env.filters["number"] = format_number
    env.filters["ratio"] = format_ratio
    env.filters["duration"] = format_duration
    env.filters["money"] = format_money
