"""`gaung rotate-key` re-encrypts every encrypted column with the newest key; `gen-key`."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from channels import credentials
from cli.main import app, encrypted_columns
from gaung import crypto

runner = CliRunner()
KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))
VALUES = {"x.bearer_token": "bearer-one", "smtp.password": "smtp-two", "graph.app_secret": "three"}


def _raw(session: Session) -> dict[str, str]:
    rows = session.execute(text("SELECT name, value FROM channel_credential")).all()
    return {name: value for name, value in rows}


def _plain(session: Session) -> dict[str, str]:
    return {name: crypto.decrypt(token) for name, token in _raw(session).items()}


@pytest.fixture
def stored(db: Engine, session: Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv(crypto.KEYS_ENV, KEY_A)
    for name, value in VALUES.items():
        credentials.save(session, name, value, None)
    session.commit()
    return _raw(session)


def test_every_encrypted_column_is_discovered() -> None:
    found = {(t.name, c.name) for t, columns in encrypted_columns() for c in columns}
    assert ("channel_credential", "value") in found


def test_rotation_moves_every_value_to_the_newest_key(
    stored: dict[str, str], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(crypto.KEYS_ENV, f"{KEY_B},{KEY_A}")
    result = runner.invoke(app, ["rotate-key"])
    assert result.exit_code == 0, result.output
    assert "channel_credential: 3 value(s) re-encrypted" in result.output
    rotated = _raw(session)
    assert all(rotated[name] != stored[name] for name in VALUES)
    monkeypatch.setenv(crypto.KEYS_ENV, KEY_B)  # the old key is gone
    assert _plain(session) == VALUES


def test_rotation_twice_is_harmless(
    stored: dict[str, str], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(crypto.KEYS_ENV, f"{KEY_B},{KEY_A}")
    for _ in range(2):
        assert runner.invoke(app, ["rotate-key"]).exit_code == 0
    monkeypatch.setenv(crypto.KEYS_ENV, KEY_B)
    assert _plain(session) == VALUES


def test_a_wrong_key_is_a_clear_error_and_changes_nothing(
    stored: dict[str, str], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(crypto.KEYS_ENV, KEY_C)
    result = runner.invoke(app, ["rotate-key"])
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # the terminal wraps long lines
    assert "cannot be decrypted with any key in GAUNG_ENCRYPTION_KEYS" in output
    assert "nothing was changed" in output
    for value in VALUES.values():
        assert value not in output
    assert _raw(session) == stored
    monkeypatch.setenv(crypto.KEYS_ENV, KEY_A)
    assert _plain(session) == VALUES


def test_a_failure_after_some_rows_rolls_every_row_back(
    stored: dict[str, str], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are rotated in key order; the last one was written under a key now missing."""
    monkeypatch.setenv(crypto.KEYS_ENV, KEY_C)
    credentials.save(session, "x.bearer_token", "under-key-c", None)
    session.commit()
    before = _raw(session)
    monkeypatch.setenv(crypto.KEYS_ENV, f"{KEY_B},{KEY_A}")
    result = runner.invoke(app, ["rotate-key"])
    assert result.exit_code == 1
    assert "name=x.bearer_token" in result.output
    assert _raw(session) == before


def test_gen_key_prints_a_usable_key() -> None:
    result = runner.invoke(app, ["gen-key"])
    assert result.exit_code == 0
    key = result.output.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"ok")) == b"ok"
