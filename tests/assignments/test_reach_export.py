"""The reach figures as CSV and as the CLI table, on the campaign of conftest.seeded."""

from __future__ import annotations

import csv
import io

from sqlmodel import Session

from assignments.reach import CampaignReach, campaign_reach
from assignments.reach_export import CSV_COLUMNS, reach_csv, summary_csv, summary_rows
from assignments.reposters import Reposter
from gaung.i18n import use_locale
from roster.models import Asn


def test_the_csv_has_a_header_and_one_row_per_reposter(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    campaign_id, people = seeded
    rows = list(csv.reader(io.StringIO(reach_csv(campaign_reach(session, campaign_id)))))

    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 5
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert first["asn_name"] == people["a1"].name
    assert first["followers_at_report"] == "1000"
    assert first["repost_url"] == "https://x.com/a1/status/1"
    assert first["reported_at"] == "2026-03-01T10:05:00+00:00"
    assert rows[4][:2] == ["—", "Biro Hukum"]


def test_csv_cells_cannot_smuggle_spreadsheet_formulas() -> None:
    reach = CampaignReach(campaign_id=1)
    reach.reposters.append(
        Reposter(
            asn_name='=HYPERLINK("http://evil")',
            unit="Biro",
            platform="x",
            handle="h",
            followers=1,
            repost_url=None,
            reported_at=None,
            status="reported",
        )
    )
    row = list(csv.reader(io.StringIO(reach_csv(reach))))[1]
    assert row[0].startswith("'=")


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


def test_the_summary_csv_has_a_row_per_scope_and_says_not_returned(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    rows = list(csv.DictReader(io.StringIO(summary_csv(campaign_reach(session, seeded[0])))))

    assert [(r["scope"], r["name"]) for r in rows][:4] == [
        ("campaign", ""),
        ("platform", "x"),
        ("platform", "facebook"),
        ("platform", "instagram"),
    ]
    assert rows[0]["verification_rate"] == "0.4000"
    assert rows[0]["potential_reach_verified"] == "6500"
    assert rows[0]["impressions"] == "not_returned"
    assert rows[3]["verification_rate"] == ""
