"""The reach figures written out: CSV files for spreadsheets and the table of ``gaung report``.

The CSV headers are English snake_case whatever the UI language; the CLI table speaks the
reader's language.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from assignments.reach import CampaignReach, ReachFigures
from assignments.reposters import Reposter
from gaung.i18n import format_number, format_ratio
from gaung.i18n import gettext as _

CSV_COLUMNS = (
    "asn_name",
    "unit",
    "platform",
    "handle",
    "followers_at_report",
    "repost_url",
    "reported_at",
    "status",
    "verified_at",
    "deleted_after_verification_at",
    "impressions",
    "likes",
    "reposts",
    "replies",
)


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC).isoformat()
    text_value = "" if value is None else str(value)
    if text_value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text_value
    return text_value


def _csv_line(values: Iterable[object]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([_cell(v) for v in values])
    return out.getvalue()


def _reposter_cells(r: Reposter) -> tuple[object, ...]:
    return (
        r.asn_name, r.unit, r.platform, r.handle, r.followers, r.repost_url, r.reported_at,
        r.status, r.verified_at, r.flagged_gone_at, r.impressions, r.likes, r.reposts, r.replies,
    )  # fmt: skip


def reach_csv_lines(reposters: Iterable[Reposter]) -> Iterator[str]:
    """One line per reposter after an English snake_case header (streamable)."""
    yield _csv_line(CSV_COLUMNS)
    for reposter in reposters:
        yield _csv_line(_reposter_cells(reposter))


def reach_csv(reach: CampaignReach) -> str:
    return "".join(reach_csv_lines(reach.reposters))


SUMMARY_CSV_COLUMNS = (
    "scope",
    "name",
    "assignments",
    "reported",
    "verified",
    "rejected",
    "declined",
    "expired",
    "completion_rate",
    "verification_rate",
    "verified_rate",
    "potential_reach_verified",
    "potential_reach_reported",
    "clicks",
    "reposts_measured",
    "impressions",
    "engagement",
    "median_minutes_to_repost",
    "deleted_after_verification",
    "withdrawn",
)


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _summary_cells(scope: str, name: str, f: ReachFigures) -> tuple[object, ...]:
    minutes = None if f.median_repost_seconds is None else round(f.median_repost_seconds / 60, 1)
    return (
        scope, name, f.assignments, f.reported, f.verified, f.rejected, f.declined, f.expired,
        _rate(f.completion_rate), _rate(f.verification_rate), _rate(f.verified_rate),
        f.verified_reach, f.potential_reach, f.clicks, f.measured,
        "not_returned" if f.impressions is None else f.impressions,
        "not_returned" if f.engagement is None else f.engagement,
        minutes, f.deleted_after_verification, f.withdrawn,
    )  # fmt: skip


def summary_csv(reach: CampaignReach) -> str:
    """The campaign, each platform and each unit: one row of figures each."""
    lines = [_csv_line(SUMMARY_CSV_COLUMNS), _csv_line(_summary_cells("campaign", "", reach.total))]
    lines += [_csv_line(_summary_cells("platform", p, f)) for p, f in reach.by_platform.items()]
    lines += [_csv_line(_summary_cells("unit", u, f)) for u, f in reach.by_unit.items()]
    return "".join(lines)


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
