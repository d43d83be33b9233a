"""Translations (gettext catalogs via Babel) and locale-aware formatting.

msgids are English; ``locale/id`` translates them to Bahasa Indonesia, the default.
The current locale lives in a context variable so one Jinja2 environment serves
every request in its reader's language.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from io import BytesIO
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from gaung.settings import PROJECT_ROOT, get_settings

LOCALES = ("id", "en")
LOCALE_DIR = PROJECT_ROOT / "locale"
_current: ContextVar[str | None] = ContextVar("gaung_locale", default=None)


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


def local_time(value: datetime) -> datetime:
    """Convert a stored UTC datetime to the configured time zone."""
    return value.astimezone(ZoneInfo(get_settings().timezone))


def format_date(value: date | datetime, fmt: str = "long") -> str:
    """E.g. "17 Agustus 2026" in id, "August 17, 2026" in en."""
    if isinstance(value, datetime):
        value = local_time(value).date()
    return _format_date(value, format=fmt, locale=get_locale())


def format_datetime(value: datetime, fmt: str = "medium") -> str:
    tz = ZoneInfo(get_settings().timezone)
    return _format_datetime(value, format=fmt, tzinfo=tz, locale=get_locale())


def format_number(value: float | int) -> str:
    """E.g. "1.234.567" in id, "1,234,567" in en."""
    return format_decimal(value, locale=get_locale())


def format_ratio(value: float) -> str:
    return format_percent(value, format="#,##0.0%", locale=get_locale())


def install(env: jinja2.Environment) -> None:
    """Give a Jinja2 environment _(), ngettext and the locale-aware filters."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True
    )
    env.globals["get_locale"] = get_locale
    env.filters["date"] = format_date
    env.filters["datetime"] = format_datetime
    env.filters["number"] = format_number
    env.filters["ratio"] = format_ratio
