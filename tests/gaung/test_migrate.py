"""Migrating SQLite: foreign keys are off while tables are rebuilt, and checked before commit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from gaung.db import make_engine
from gaung.migrate import MigrationError, upgrade


def test_a_referenced_table_with_rows_can_be_rebuilt_by_later_migrations(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/gaung.db")
    upgrade(engine, "0010")
    with engine.begin() as conn:  # rows that point at agency, as in any live database
        conn.execute(
            text(
                "INSERT INTO agency (id, slug, name, created_at) VALUES (1, 'k', 'K', '2026-01-01')"
            )
        )
        conn.execute(text("INSERT INTO unit (agency_id, name) VALUES (1, 'Biro Humas')"))

    upgrade(engine)  # every later migration, whichever tables it rebuilds

    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM unit")).scalar_one() == 1
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    engine.dispose()


def test_a_migration_that_would_leave_a_dangling_reference_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/gaung.db")
    upgrade(engine)
    with engine.connect() as conn:
        conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        conn.execute(text("INSERT INTO unit (agency_id, name) VALUES (404, 'nowhere')"))
        conn.commit()
        conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]

    with pytest.raises(MigrationError, match="unit"):
        upgrade(engine)
    engine.dispose()
