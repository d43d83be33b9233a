"""CSV for Excel set to Indonesian, shared by every export.

Excel opens a ``.csv`` with the regional list separator and decimal mark. In Indonesian
(id-ID) the decimal mark is the comma and the list separator is ";", so a file meant for
those offices is written as:

- UTF-8 with a byte-order mark (without it Excel reads the bytes as ANSI and breaks "é");
- ";" between fields and CRLF line ends;
- decimals with a comma ("71,13"), integers without a thousands separator ("6500"), so
  Excel-ID reads both as numbers; a rate is written as a percentage under a "(%)" header;
- times as "YYYY-MM-DD HH:MM" in the agency's zone, the zone (WIB, WITA, WIT) named in the
  header, which Excel recognises as a date and time;
- nothing where there is no figure (an empty cell, never 0 or a word);
- a cell starting like a formula (=, +, -, @, a tab or CR) led by an apostrophe, so a name
  someone typed cannot run as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

BOM = "\ufeff"
DELIMITER = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TIME_FORMAT = "%Y-%m-%d %H:%M"


def text_cell(value: object) -> str:
    """Text a spreadsheet will not run as a formula ("" for None)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def decimal(value: float | None, places: int = 2) -> str:
    """A decimal with a comma, as Excel-ID reads a number ("" for None)."""
    return "" if value is None else f"{value:.{places}f}".replace(".", ",")


def percent(rate: float | None) -> str:
    """A rate (0.7113) as the percentage under a "(%)" header ("71,13")."""
    return "" if rate is None else decimal(rate * 100)


def aware_utc(moment: datetime) -> datetime:
    """A stored time, aware: naive ones are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def local_time(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A stored time in ``zone``, naive (the zone goes in the header), to the minute."""
    if moment is None:
        return None
    return aware_utc(moment).astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def time_cell(moment: datetime | None, zone: ZoneInfo) -> str:
    shown = local_time(moment, zone)
    return "" if shown is None else shown.strftime(TIME_FORMAT)


def csv_line(cells: Iterable[object]) -> str:
    """One ";"-separated line; cells must already be strings or numbers (see text_cell)."""
    out = io.StringIO()
    csv.writer(out, delimiter=DELIMITER, lineterminator="\r\n").writerow(list(cells))
    return out.getvalue()
