"""The reach figures written out: CSV and XLSX for Excel set to Indonesian, and the CLI table.

The files are for Indonesian offices whatever the UI language: Indonesian column names,
times in the agency's zone with the zone (WIB, WITA, WIT) in the column name, and nothing
in a cell where a platform returned no figure. The CSV follows gaung.spreadsheet (UTF-8
with a BOM, ";", decimal commas, rates as percentages under "(%)"); the XLSX has real
numbers, percentages and datetimes with number formats, a frozen header row and filters.
Both list every assignment, the ASN who did nothing included, and the same totals as the
dashboard (the CampaignReach it shows). The CLI table speaks the reader's language.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

import xlsxwriter

from assignments.reach import CampaignReach, ReachFigures
from assignments.reposters import AssignmentRow
from gaung.i18n import format_number, format_ratio
from gaung.i18n import gettext as _
from gaung.settings import PLATFORM_NAMES
from gaung.spreadsheet import BOM, csv_line, decimal, local_time, percent, text_cell, time_cell

# Said to supervisors, so not the ASN's own inbox words ("Declined by you").
STATUS_LABELS = {
    "pending": "Belum dikerjakan",
    "reported": "Dilaporkan",
    "verified": "Terverifikasi",
    "rejected": "Tidak terverifikasi",
    "declined": "Menolak",
    "expired": "Kedaluwarsa",
    "withdrawn": "Ditarik kembali",
}
SCOPES = {"campaign": "Kampanye", "platform": "Platform", "unit": "Unit"}

Kind = Literal["text", "int", "rate", "decimal", "time"]


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)


# --- every assignment -----------------------------------------------------------------------

_TIME_COLUMNS = (
    "Ditugaskan",
    "Tenggat",
    "Dilaporkan",
    "Diverifikasi",
    "Terhapus setelah verifikasi",
)


def assignment_columns(zone_label: str) -> list[tuple[str, Kind]]:
    """Column names and kinds of the assignment list; times name the agency's zone."""

    def when(name: str) -> tuple[str, Kind]:
        return f"{name} ({zone_label})", "time"

    return [
        ("Nama ASN", "text"), ("Unit", "text"), ("Platform", "text"), ("Akun", "text"),
        ("Status", "text"), when("Ditugaskan"), when("Tenggat"), when("Dilaporkan"),
        ("Pengikut saat lapor", "int"), ("Tautan repost", "text"), when("Diverifikasi"),
        when("Terhapus setelah verifikasi"), ("Tayangan", "int"), ("Suka", "int"),
        ("Bagikan ulang", "int"), ("Balasan", "int"),
    ]  # fmt: skip


def _assignment_values(r: AssignmentRow) -> list[object]:
    return [
        r.asn_name, r.unit, platform_name(r.platform), r.handle, status_label(r.status),
        r.assigned_at, r.deadline, r.reported_at, r.followers, r.repost_url, r.verified_at,
        r.flagged_gone_at, r.impressions, r.likes, r.reposts, r.replies,
    ]  # fmt: skip


def _csv_value(value: object, kind: Kind, zone: ZoneInfo) -> object:
    if value is None:
        return ""
    if kind == "time":
        assert isinstance(value, datetime)
        return time_cell(value, zone)
    if kind == "rate":
        assert isinstance(value, float)
        return percent(value)
    if kind == "decimal":
        assert isinstance(value, float)
        return decimal(value, 1)
    if kind == "int":
        return value
    return text_cell(value)


def assignments_csv_lines(
    rows: Iterable[AssignmentRow], zone: ZoneInfo, zone_label: str
) -> Iterator[str]:
    """The assignment list as CSV lines, the first with the BOM (streamable)."""
    columns = assignment_columns(zone_label)
    yield BOM + csv_line(name for name, _kind in columns)
    for row in rows:
        values = _assignment_values(row)
        yield csv_line(
            _csv_value(v, kind, zone) for v, (_name, kind) in zip(values, columns, strict=True)
        )


# --- totals ---------------------------------------------------------------------------------


def _minutes(f: ReachFigures) -> float | None:
    return None if f.median_repost_seconds is None else f.median_repost_seconds / 60


_Figure = tuple[str, Kind, Callable[[ReachFigures], int | float | None]]
SUMMARY_FIGURES: tuple[_Figure, ...] = (
    ("Penugasan", "int", lambda f: f.assignments),
    ("Dilaporkan", "int", lambda f: f.reported),
    ("Terverifikasi", "int", lambda f: f.verified),
    ("Tidak terverifikasi", "int", lambda f: f.rejected),
    ("Menolak", "int", lambda f: f.declined),
    ("Kedaluwarsa", "int", lambda f: f.expired),
    ("Tingkat penyelesaian", "rate", lambda f: f.completion_rate),
    ("Tingkat verifikasi", "rate", lambda f: f.verification_rate),
    ("Dilaporkan, tidak dapat diverifikasi", "int", lambda f: f.unverifiable),
    ("Terverifikasi dari penugasan", "rate", lambda f: f.verified_rate),
    ("Jangkauan potensial terverifikasi", "int", lambda f: f.verified_reach),
    ("Jangkauan potensial dilaporkan", "int", lambda f: f.potential_reach),
    ("Klik", "int", lambda f: f.clicks),
    ("Repost terukur", "int", lambda f: f.measured),
    ("Tayangan", "int", lambda f: f.impressions),
    ("Keterlibatan", "int", lambda f: f.engagement),
    ("Median menit hingga repost", "decimal", _minutes),
    ("Dihapus setelah verifikasi", "int", lambda f: f.deleted_after_verification),
    ("Ditarik kembali", "int", lambda f: f.withdrawn),
)


def summary_scopes(reach: CampaignReach) -> Iterator[tuple[str, str, ReachFigures]]:
    """(scope, name, figures): the campaign, each platform, each unit, as the dashboard."""
    yield SCOPES["campaign"], "", reach.total
    for platform, figures in reach.by_platform.items():
        yield SCOPES["platform"], platform_name(platform), figures
    for unit, figures in reach.by_unit.items():
        yield SCOPES["unit"], unit, figures


def summary_headers(*, csv: bool) -> list[str]:
    """Column names of the totals; in a CSV a rate is a percentage and says so."""
    names = [n + (" (%)" if csv and kind == "rate" else "") for n, kind, _get in SUMMARY_FIGURES]
    return ["Lingkup", "Nama", *names]


def summary_csv(reach: CampaignReach) -> str:
    """The campaign, each platform and each unit: one row of figures each, BOM first."""
    lines = [BOM + csv_line(summary_headers(csv=True))]
    for scope, name, f in summary_scopes(reach):
        figures = [_csv_value(get(f), kind, ZoneInfo("UTC")) for _n, kind, get in SUMMARY_FIGURES]
        lines.append(csv_line([scope, text_cell(name), *figures]))
    return "".join(lines)


# --- XLSX -------------------------------------------------------------------------------------

SUMMARY_SHEET = "Ringkasan"
ASSIGNMENTS_SHEET = "Penugasan"
FORMATS = {
    "int": "#,##0",
    "rate": "0.00%",
    "decimal": "0.0",
    "time": "dd/mm/yyyy hh:mm",
}


_Sheet = tuple[str, list[tuple[str, Kind]], Iterable[list[object]]]  # name, columns, rows


def _workbook(sheets: Iterable[_Sheet], zone: ZoneInfo) -> bytes:
    """Typed sheets with a bold wrapped header, frozen header row and filters, built row by row.

    constant_memory keeps only the current row in memory (the rest goes to a temporary
    file), so a campaign of 100,000 assignments costs the file, not its cells.
    """
    out = io.BytesIO()
    options = {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    with xlsxwriter.Workbook(out, options) as book:
        header = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        formats = {kind: book.add_format({"num_format": code}) for kind, code in FORMATS.items()}
        for name, columns, rows in sheets:
            ws = book.add_worksheet(name)
            for index, (_title, kind) in enumerate(columns):
                ws.set_column(index, index, 18 if kind in ("time", "text") else 12)
            ws.freeze_panes(1, 0)
            for index, (title, _kind) in enumerate(columns):
                ws.write_string(0, index, title, header)
            count = 0
            for count, values in enumerate(rows, start=1):
                for index, (value, (_t, kind)) in enumerate(zip(values, columns, strict=True)):
                    _write(ws, count, index, value, kind, formats, zone)
            ws.autofilter(0, 0, count, len(columns) - 1)
    return out.getvalue()


def _totals_columns() -> list[tuple[str, Kind]]:
    totals: list[tuple[str, Kind]] = [("Lingkup", "text"), ("Nama", "text")]
    return totals + [(name, kind) for name, kind, _get in SUMMARY_FIGURES]


def _totals_rows(reach: CampaignReach) -> Iterator[list[object]]:
    for scope, name, f in summary_scopes(reach):
        yield [scope, name, *(get(f) for _n, _k, get in SUMMARY_FIGURES)]


def reach_xlsx(
    reach: CampaignReach, rows: Iterable[AssignmentRow], zone: ZoneInfo, zone_label: str
) -> bytes:
    """A workbook of the totals (as the dashboard) and every assignment, built row by row."""
    return _workbook(
        [
            (SUMMARY_SHEET, _totals_columns(), _totals_rows(reach)),
            (ASSIGNMENTS_SHEET, assignment_columns(zone_label), map(_assignment_values, rows)),
        ],
        zone,
    )


ALL_CAMPAIGNS = "Semua kampanye"


def reach_xlsx_many(
    campaigns: Sequence[tuple[str, CampaignReach, Iterable[AssignmentRow]]],
    total: ReachFigures,
    zone: ZoneInfo,
    zone_label: str,
) -> bytes:
    """The same workbook over several campaigns (title, figures, assignments), a *Kampanye*
    column first: the totals of all of them (``total``), then each campaign's totals; then
    every assignment of each."""
    first: list[tuple[str, Kind]] = [("Kampanye", "text")]

    def totals() -> Iterator[list[object]]:
        yield [
            ALL_CAMPAIGNS,
            SCOPES["campaign"],
            "",
            *(get(total) for _n, _k, get in SUMMARY_FIGURES),
        ]
        for title, reach, _rows in campaigns:
            for values in _totals_rows(reach):
                yield [title, *values]

    def assignments() -> Iterator[list[object]]:
        for title, _reach, rows in campaigns:
            for row in rows:
                yield [title, *_assignment_values(row)]

    return _workbook(
        [
            (SUMMARY_SHEET, first + _totals_columns(), totals()),
            (ASSIGNMENTS_SHEET, first + assignment_columns(zone_label), assignments()),
        ],
        zone,
    )


def _write(
    ws: xlsxwriter.worksheet.Worksheet,
    row: int,
    column: int,
    value: object,
    kind: Kind,
    formats: dict[str, xlsxwriter.format.Format],
    zone: ZoneInfo,
) -> None:
    """One typed cell; None writes nothing (an empty cell, not 0); text is never a formula."""
    if value is None:
        return
    if kind == "time":
        assert isinstance(value, datetime)
        ws.write_datetime(row, column, local_time(value, zone), formats["time"])
    elif kind in FORMATS:
        assert isinstance(value, int | float)
        ws.write_number(row, column, value, formats[kind])
    else:
        ws.write_string(row, column, str(value))


# --- the CLI table --------------------------------------------------------------------------


def summary_columns() -> tuple[str, ...]:
    """Column titles for summary_rows, in the reader's language."""
    return (
        _("Scope"),
        _("Name"),
        _("Assignments"),
        _("Reported"),
        _("Verified"),
        _("Declined"),
        _("Completion"),
        _("Potential reach"),
        _("Clicks"),
    )


def summary_rows(reach: CampaignReach) -> list[tuple[str, ...]]:
    """The whole campaign, then each platform, then each unit, formatted for a CLI table."""
    rows = [_summary_row(_("Campaign total"), "", reach.total)]
    rows += [_summary_row(_("By platform"), p, f) for p, f in reach.by_platform.items()]
    rows += [_summary_row(_("By unit"), u, f) for u, f in reach.by_unit.items()]
    return rows


def _summary_row(scope: str, name: str, f: ReachFigures) -> tuple[str, ...]:
    return (
        scope,
        name,
        format_number(f.assignments),
        format_number(f.reported),
        format_number(f.verified),
        format_number(f.declined),
        format_ratio(f.completion_rate),
        format_number(f.potential_reach),
        format_number(f.clicks),
    )
