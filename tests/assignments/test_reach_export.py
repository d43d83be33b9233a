"""The reach figures as CSV, XLSX and the CLI table, on the campaign of conftest.seeded."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session

from assignments.models import AssignmentStatus
from assignments.reach import CampaignReach, ReachFigures, campaign_reach
from assignments.reach_export import (
    ASSIGNMENTS_SHEET,
    SUMMARY_FIGURES,
    SUMMARY_SHEET,
    assignments_csv_lines,
    reach_xlsx,
    summary_csv,
    summary_rows,
)
from assignments.reposters import AssignmentRow, iter_assignments
from content.models import Campaign, PostStatus
from gaung.i18n import use_locale
from gaung.settings import PLATFORM_NAMES
from gaung.spreadsheet import BOM
from roster.agencies import zone_label, zone_of
from roster.models import Agency, Asn
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

WITA = ZoneInfo("Asia/Makassar")


def _in_wita(session: Session, campaign_id: int) -> None:
    agency = session.get_one(Agency, session.get_one(Campaign, campaign_id).agency_id)
    agency.timezone = "Asia/Makassar"
    session.add(agency)
    session.commit()


def _read_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter=";"))


def _assignments_csv(session: Session, campaign_id: int) -> str:
    zone = zone_of(session.get_one(Agency, session.get_one(Campaign, campaign_id).agency_id))
    return "".join(assignments_csv_lines(iter_assignments(session, campaign_id), zone, "WITA"))


def test_the_assignment_csv_lists_everyone_in_the_agencys_zone_for_excel_id(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    campaign_id, people = seeded
    _in_wita(session, campaign_id)

    text = _assignments_csv(session, campaign_id)
    rows = _read_csv(text)

    assert text.splitlines()[0].count(";") == 15  # ";" between the 16 columns
    assert len(rows) == 7  # every assignment, not only the four reposts
    by_status = sorted(r["Status"] for r in rows)
    assert "Belum dikerjakan" in by_status  # a2 on Instagram did nothing
    assert "Menolak" in by_status
    first = next(r for r in rows if r["Nama ASN"] == people["a1"].name and r["Platform"] == "X")
    assert first["Dilaporkan (WITA)"] == "2026-03-01 18:05"  # 10:05 UTC
    assert first["Pengikut saat lapor"] == "1000"
    assert first["Tautan repost"] == "https://x.com/a1/status/1"
    assert first["Tayangan"] == ""  # not returned: empty, not 0
    hukum = [r["Nama ASN"] for r in rows if r["Unit"] == "Biro Hukum"]
    assert hukum[-1] == "—"  # who left: last of their unit


def _row(name: str) -> AssignmentRow:
    moment = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    return AssignmentRow(
        asn_name=name, unit="Biro", platform="x", handle="h", status="pending",
        assigned_at=moment, deadline=moment, reported_at=None, followers=None, repost_url=None,
        verified_at=None, flagged_gone_at=None, impressions=None, likes=None, reposts=None,
        replies=None,
    )  # fmt: skip


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil")', "+1", "-2", "@SUM(A1)"])
def test_csv_cells_cannot_smuggle_spreadsheet_formulas(name: str) -> None:
    text = "".join(assignments_csv_lines([_row(name)], WITA, "WITA"))
    assert _read_csv(text)[0]["Nama ASN"] == "'" + name


def test_summary_rows_give_the_campaign_then_platforms_then_units(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    with use_locale("en"):
        rows = summary_rows(campaign_reach(session, seeded[0]))
    assert rows[0] == ("Campaign total", "", "7", "4", "2", "1", "57.1%", "8,300", "4")
    assert [r[:2] for r in rows[1:]] == [
        ("By platform", "x"),
        ("By platform", "facebook"),
        ("By platform", "instagram"),
        ("By unit", "Biro Hukum"),
        ("By unit", "Biro Humas"),
    ]


def test_the_summary_csv_is_for_excel_id_with_percentages_and_empty_cells(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    rows = _read_csv(summary_csv(campaign_reach(session, seeded[0])))

    assert [(r["Lingkup"], r["Nama"]) for r in rows][:4] == [
        ("Kampanye", ""),
        ("Platform", "X"),
        ("Platform", "Facebook"),
        ("Platform", "Instagram"),
    ]
    # decimal comma: Excel-ID's number; 1 of the 3 verifiable (X) reposts, Facebook left out
    assert rows[0]["Tingkat verifikasi (%)"] == "33,33"
    assert rows[0]["Tingkat penyelesaian (%)"] == "57,14"
    assert rows[0]["Jangkauan potensial terverifikasi"] == "6500"
    assert rows[0]["Tayangan"] == ""  # not returned: empty, neither 0 nor a word
    assert rows[3]["Tingkat verifikasi (%)"] == ""


def _book(session: Session, campaign_id: int) -> tuple[CampaignReach, Worksheet, Worksheet]:
    reach = campaign_reach(session, campaign_id)
    zone = zone_of(session.get_one(Agency, session.get_one(Campaign, campaign_id).agency_id))
    body = reach_xlsx(reach, iter_assignments(session, campaign_id), zone, zone_label(zone))
    book = openpyxl.load_workbook(io.BytesIO(body))
    return reach, book[SUMMARY_SHEET], book[ASSIGNMENTS_SHEET]


def test_the_xlsx_totals_are_the_dashboards_figures(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    reach, totals, _assignments = _book(session, seeded[0])

    rows = list(totals.iter_rows(values_only=True))
    expected: list[tuple[str, ReachFigures]] = [
        ("", reach.total),
        *((PLATFORM_NAMES[n], f) for n, f in reach.by_platform.items()),
        *reach.by_unit.items(),
    ]
    assert [r[1] or "" for r in rows[1:]] == [name for name, _f in expected]
    for row, (_name, figures) in zip(rows[1:], expected, strict=True):
        assert list(row[2:]) == pytest.approx([get(figures) for _n, _k, get in SUMMARY_FIGURES])
    assert rows[1][2:5] == (7, 4, 2)  # counted by hand in conftest.seeded


def test_the_xlsx_has_typed_cells_formats_and_every_assignment(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    campaign_id, people = seeded
    _in_wita(session, campaign_id)
    _reach, totals, sheet = _book(session, campaign_id)

    header = [c.value for c in totals[1]]
    rate = totals.cell(2, header.index("Tingkat verifikasi") + 1)
    assert rate.value == pytest.approx(1 / 3)  # X only: Facebook is never verifiable
    assert rate.number_format == "0.00%"
    assert totals.cell(2, header.index("Tayangan") + 1).value is None  # not returned: empty
    assert totals.freeze_panes == "A2"
    assert totals.auto_filter.ref

    columns = [c.value for c in sheet[1]]
    assert "Dilaporkan (WITA)" in columns
    rows = [dict(zip(columns, r, strict=True)) for r in sheet.iter_rows(2, values_only=True)]
    assert len(rows) == 7
    assert {"Belum dikerjakan", "Menolak"} <= {r["Status"] for r in rows}
    first = next(r for r in rows if r["Nama ASN"] == people["a1"].name and r["Platform"] == "X")
    assert first["Dilaporkan (WITA)"] == datetime(2026, 3, 1, 18, 5)
    reported = sheet.cell(2 + rows.index(first), columns.index("Dilaporkan (WITA)") + 1)
    assert isinstance(reported, Cell)
    assert reported.is_date
    assert reported.number_format == "dd/mm/yyyy hh:mm"
    assert first["Tayangan"] is None
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:P8"


def test_xlsx_text_is_never_a_formula() -> None:
    body = reach_xlsx(
        CampaignReach(campaign_id=1), [_row('=HYPERLINK("http://evil")')], WITA, "WITA"
    )
    cell = openpyxl.load_workbook(io.BytesIO(body))[ASSIGNMENTS_SHEET]["A2"]
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("http://evil")'


def test_the_summary_counts_reports_that_cannot_be_verified_apart(session: Session) -> None:
    agency = make_agency(session)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency)
    post = make_post(session, campaign, author, status=PostStatus.DISPATCHED)
    unit = make_unit(session, agency)
    for platform in ("x", "facebook", "facebook"):
        assignment = make_assignment(session, post, make_asn(session, unit), platform)
        assignment.status = AssignmentStatus.REPORTED
        session.add(assignment)
    session.commit()

    rows = _read_csv(summary_csv(campaign_reach(session, campaign.id or 0)))

    by_name = {r["Nama"]: r for r in rows}
    assert rows[0]["Dilaporkan, tidak dapat diverifikasi"] == "2"
    assert rows[0]["Tingkat verifikasi (%)"] == "0,00"  # 0 of the 1 X report, not of 3
    assert by_name["Facebook"]["Tingkat verifikasi (%)"] == ""  # nothing to check
