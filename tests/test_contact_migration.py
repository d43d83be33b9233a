"""Migration 0011 brings stored phones and e-mail addresses to gaung.fields' form.

Each test gets a fresh database migrated to 0010, inserts rows the way the old code
stored them (raw SQL: the models describe the newest schema), then upgrades.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from gaung.db import make_engine
from gaung.migrate import downgrade, upgrade
from tests.conftest import _drop_pg_database, _pg_database

BEFORE = "0010"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

# id -> (phone, email) as the roster import and the inbox settings used to keep them.
ASN_ROWS: dict[int, tuple[str | None, str | None]] = {
    1: ("0812-3456-7890", "Budi.Santoso@Kominfo.GO.ID"),
    2: ("+6281234567891", "siti@kominfo.go.id"),
    3: ("12345", "not-an-address"),
    4: ("(0813) 1111 2222", "SITI@Kominfo.go.id"),  # the address of ASN 2, differently cased
    5: (None, None),
}
USER_ROWS = {1: "Admin@Kominfo.go.id", 2: "editor@kominfo.go.id"}


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> Iterator[Engine]:
    """A database at revision 0010 holding the rows above."""
    name = f"gaung_migration_{worker_id}_{os.getpid()}"
    url = f"sqlite:///{tmp_path}/gaung.db" if request.param == "sqlite" else _pg_database(name)
    engine = make_engine(url)
    upgrade(engine, BEFORE)
    _insert_old_rows(engine)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        _drop_pg_database(name)


def _insert_old_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO agency (id, slug, name, created_at) VALUES (1, 'k', 'K', :now)"),
            {"now": NOW},
        )
        conn.execute(text("INSERT INTO unit (id, agency_id, name) VALUES (1, 1, 'Biro Humas')"))
        for asn_id, (phone, email) in ASN_ROWS.items():
            conn.execute(
                text(
                    "INSERT INTO asn (id, agency_id, unit_id, name, messenger, status, locale,"
                    " login_epoch, created_at, phone, email) VALUES (:id, 1, 1, 'ASN', 'email',"
                    " 'active', 'id', 0, :now, :phone, :email)"
                ),
                {"id": asn_id, "now": NOW, "phone": phone, "email": email},
            )
        for user_id, email in USER_ROWS.items():
            conn.execute(
                text(
                    'INSERT INTO "user" (id, email, name, password_hash, role, agency_id, locale,'
                    " active, created_at) VALUES (:id, :email, 'Staff', 'x', 'editor', 1, 'id',"
                    " true, :now)"
                ),
                {"id": user_id, "email": email, "now": NOW},
            )


def _rows(engine: Engine, query: str) -> dict[int, Any]:
    with engine.connect() as conn:
        return {row[0]: tuple(row[1:]) for row in conn.execute(text(query))}


def test_phones_and_addresses_are_rewritten_and_refusals_are_reported_not_changed(
    old_db: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="alembic"):
        upgrade(old_db)

    assert _rows(old_db, "SELECT id, phone, email FROM asn") == {
        1: ("+6281234567890", "budi.santoso@kominfo.go.id"),
        2: ("+6281234567891", "siti@kominfo.go.id"),
        3: ("12345", "not-an-address"),
        4: ("+6281311112222", "SITI@Kominfo.go.id"),
        5: (None, None),
    }
    assert _rows(old_db, 'SELECT id, email FROM "user"') == {
        1: ("admin@kominfo.go.id",),
        2: ("editor@kominfo.go.id",),
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "asn id 3, field phone: is not valid; left as it is",
        "asn id 3, field email: is not valid; left as it is",
        "asn id 4, field email: normalises to a value another row holds; left as it is",
    ]


def test_downgrade_leaves_the_normalised_values(old_db: Engine) -> None:
    upgrade(old_db)
    downgrade(old_db, BEFORE)

    assert _rows(old_db, "SELECT id, phone FROM asn WHERE id = 1") == {1: ("+6281234567890",)}
