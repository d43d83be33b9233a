"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is the one at 127.0.0.1:5432 (override with GAUNG_TEST_PG_URL). When
it cannot be reached the PostgreSQL half is skipped locally, but with CI=true
it fails: CI must never pass on SQLite alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

os.environ.setdefault("GAUNG_SECRET_KEY", "test-secret-key-not-for-production")
os.environ["GAUNG_SCHEDULER__ENABLED"] = "false"
os.environ["GAUNG_BASE_URL"] = "http://testserver"

import psycopg
import pytest
from hypothesis import find, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from gaung.db import make_engine, set_engine
from gaung.migrate import upgrade
from wiring import wire
from wiring.models import metadata

# The composition root, as every entry point calls it (tests/test_wiring.py compares them).
wire()

# The fake X API and its fixtures (fake_x, x), shared by the channel, scheduler and roster tests.
pytest_plugins = ["tests.channels.fakes_x"]

PG_ADMIN_URL = os.environ.get("GAUNG_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build Hypothesis's one-time tables now, before any test's input generation is timed.

    Hypothesis builds them lazily inside the first draw that needs them and bills that draw to
    whichever test happens to come first in the process (with xdist: in each worker):

    - the code points ``st.text()``'s default alphabet (``characters(codec="utf-8")``) can
      encode: an encode and decode of all 1,114,112 of them, about a second on an idle core,
      whenever ``.hypothesis/`` is new (a fresh checkout, CI);
    - the constants of every project module imported so far (about 2,400 after collection;
      parsed again whenever ``.hypothesis/constants`` is new).

    That first draw alone went over HealthCheck.too_slow's one-second budget, e.g. in
    tests/channels/test_telegram_updates.py on a loaded two-core machine under ``-n 2``.
    """
    # One draw through the public API builds both (measured: about 1.3 s with a fresh cache,
    # after which the tables cost nothing; no Hypothesis internals to break on an upgrade).
    find(st.text(min_size=1), lambda _: True, settings=settings(database=None, max_examples=1))


def _pg_database(name: str) -> str:
    """Create a fresh database for this test worker and return its URL."""
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[Engine]:
    """A migrated database per backend per test worker (the migrations are under test too)."""
    pg_name = f"gaung_test_{worker_id}_{os.getpid()}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/gaung.db"
    else:
        url = _pg_database(pg_name)
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()
    if request.param == "postgresql":
        _drop_pg_database(pg_name)


def _empty(engine: Engine) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """The application's engine for one test; every table is emptied afterwards."""
    set_engine(engine)
    try:
        yield engine
    finally:
        set_engine(None)
        _empty(engine)


@pytest.fixture
def db_url(db: Engine) -> str:
    """URL of the test database, for subprocesses (CLI, servers)."""
    return db.url.render_as_string(hide_password=False)


@pytest.fixture
def session(db: Engine) -> Iterator[Session]:
    with Session(db, expire_on_commit=False) as s:
        yield s
