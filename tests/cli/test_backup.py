"""`gaung backup` copies a live SQLite database; PostgreSQL is pointed to pg_dump."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app
from tests.factories import make_agency, make_asn, make_unit

runner = CliRunner()


def test_backup_copies_every_row_or_points_postgres_to_pg_dump(
    session: Session, db: Engine, tmp_path: Path
) -> None:
    unit = make_unit(session, make_agency(session))
    make_asn(session, unit)
    target = tmp_path / "copy.db"
    result = runner.invoke(app, ["backup", str(target)])
    if db.dialect.name == "postgresql":
        assert result.exit_code == 1
        assert "pg_dump" in result.output
        assert not target.exists()
        return
    assert result.exit_code == 0, result.output
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT count(*) FROM asn").fetchone() == (1,)
        assert copy.execute("SELECT count(*) FROM social_account").fetchone() == (3,)


def test_backup_never_overwrites_an_existing_file(db: Engine, tmp_path: Path) -> None:
    target = tmp_path / "exists.db"
    target.write_text("keep me")
    result = runner.invoke(app, ["backup", str(target)])
    assert result.exit_code == 1
    assert target.read_text() == "keep me"
