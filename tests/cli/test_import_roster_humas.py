"""``gaung import-roster`` with real Humas files: the template, units, handle lookups."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from channels import platforms
from channels import x as x_channel
from cli.main import app
from roster.importer import COLUMNS, template_csv
from roster.models import Asn, SocialAccount, Unit
from tests.channels.fakes_x import FakeX, connect, not_found, user
from tests.factories import make_agency, make_unit

runner = CliRunner()


def _excel_file(tmp_path: Path, *rows: dict[str, str]) -> Path:
    """A roster as Excel in Indonesian locale saves it: ";" separated, Windows-1252."""
    lines = [";".join(COLUMNS)]
    for extra in rows:
        cells = dict.fromkeys(COLUMNS, "") | extra
        lines.append(";".join(cells[c] for c in COLUMNS))
    path = tmp_path / "roster.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def _person(n: int, **cells: str) -> dict[str, str]:
    return {
        "nip": f"{199001012015031000 + n}",
        "name": f"Dédi {n}",
        "unit": "Biro Humas",
        "email": f"dedi{n}@kominfo.go.id",
        "x_handle": f"dedi_{n}",
        "consent_at": "17/08/2025",
    } | cells


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def wired_x(fake_x: FakeX, monkeypatch: pytest.MonkeyPatch) -> FakeX:
    """The CLI wires the real channels; X is the fake X behind the real XPlatform."""
    monkeypatch.setitem(platforms.PLATFORMS, "x", platforms.PLATFORMS.get("x", lambda: None))
    monkeypatch.setattr(x_channel, "from_settings", lambda: connect(fake_x))
    return fake_x


def test_template_writes_the_excel_template(tmp_path: Path) -> None:
    path = tmp_path / "template.csv"

    result = runner.invoke(app, ["import-roster", str(path), "--template"])

    assert result.exit_code == 0, result.output
    assert path.read_bytes() == template_csv()
    assert path.read_bytes().startswith(b"\xef\xbb\xbfnip;name;unit;")


def test_an_unknown_unit_exits_1_naming_the_row_unless_create_units(
    db: Engine, session: Session, tmp_path: Path, wired_x: FakeX
) -> None:
    agency = make_agency(session, slug="kominfo")
    make_unit(session, agency, "Biro Humas")
    path = _excel_file(
        tmp_path, _person(1, x_user_id="91"), _person(2, unit="Biro Hukum", x_user_id="92")
    )

    refused = runner.invoke(app, ["import-roster", str(path), "--agency", "kominfo"])

    assert refused.exit_code == 1
    assert "line 3, field unit: The agency has no unit Biro Hukum." in refused.output
    assert _count(session, Asn) == 0

    created = runner.invoke(
        app, ["import-roster", str(path), "--agency", "kominfo", "--create-units"]
    )

    assert created.exit_code == 0, created.output
    assert "2 created" in created.output
    assert "1 new units" in created.output
    assert _count(session, Unit) == 2
    assert session.exec(select(Asn.name).where(Asn.nip == "199001012015031001")).one() == "Dédi 1"
    assert wired_x.requests == []  # every account had its user id


def test_handles_are_looked_up_on_x_and_an_unknown_one_fails_the_file(
    db: Engine, session: Session, tmp_path: Path, wired_x: FakeX
) -> None:
    agency = make_agency(session, slug="kominfo")
    make_unit(session, agency, "Biro Humas")
    path = _excel_file(tmp_path, _person(1), _person(2))
    wired_x.add(
        "/2/users/by",
        {
            "data": [user("501", "dedi_1", 4321)],
            "errors": [not_found("dedi_2", "user", "usernames")],
        },
    )

    refused = runner.invoke(app, ["import-roster", str(path), "--agency", "kominfo"])

    assert refused.exit_code == 1
    assert "line 3, field x_handle: X has no account with this handle." in refused.output
    assert _count(session, Asn) == 0

    wired_x.add(
        "/2/users/by",
        {"data": [user("501", "dedi_1", 4321), user("502", "Dedi_2", 77)]},
    )
    imported = runner.invoke(app, ["import-roster", str(path), "--agency", "kominfo"])

    assert imported.exit_code == 0, imported.output
    assert "x: 1 API calls" in imported.output
    accounts = session.exec(
        select(SocialAccount.handle, SocialAccount.platform_user_id, SocialAccount.followers)
    ).all()
    assert sorted(accounts) == [("dedi_1", "501", 4321), ("dedi_2", "502", 77)]


def test_no_look_up_imports_handles_not_yet_verified(
    db: Engine, session: Session, tmp_path: Path, wired_x: FakeX
) -> None:
    agency = make_agency(session, slug="kominfo")
    make_unit(session, agency, "Biro Humas")
    path = _excel_file(tmp_path, _person(1))

    result = runner.invoke(app, ["import-roster", str(path), "--agency", "kominfo", "--no-look-up"])

    assert result.exit_code == 0, result.output
    assert "1 account(s) given by handle alone were not looked up" in result.output
    assert wired_x.requests == []
    account = session.exec(select(SocialAccount)).one()
    assert (account.platform_user_id, account.ownership_verified_at) == (None, None)


def test_an_undecodable_file_exits_1_with_a_clear_error(
    db: Engine, session: Session, tmp_path: Path
) -> None:
    make_agency(session, slug="kominfo")
    path = tmp_path / "roster.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\x81\x8d")

    result = runner.invoke(app, ["import-roster", str(path), "--agency", "kominfo"])

    assert result.exit_code == 1
    assert "line 1, field file: The file is not text Gaung can read" in result.output
