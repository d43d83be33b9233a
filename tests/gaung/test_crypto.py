"""Encryption at rest: Fernet keys newest first, the EncryptedString column type."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session

from channels.credentials import ChannelCredential
from gaung import crypto
from gaung.settings import get_settings

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@given(st.text(max_size=200))
def test_a_value_round_trips(plain: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(crypto.KEYS_ENV, KEY_A)
        assert crypto.decrypt(crypto.encrypt(plain)) == plain


def test_new_values_use_the_first_key_and_old_ones_still_decrypt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(crypto.KEYS_ENV, KEY_A)
    old = crypto.encrypt("token")
    monkeypatch.setenv(crypto.KEYS_ENV, f"{KEY_B},{KEY_A}")
    new = crypto.encrypt("token")
    assert crypto.decrypt(old) == crypto.decrypt(new) == "token"
    monkeypatch.setenv(crypto.KEYS_ENV, KEY_B)
    assert crypto.decrypt(new) == "token"
    with pytest.raises(crypto.DecryptionError, match="configured keys"):
        crypto.decrypt(old)


def test_a_key_file_is_made_once_with_owner_only_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(crypto.KEYS_ENV, raising=False)
    monkeypatch.setattr(get_settings(), "secret_key_file", tmp_path / "secret_key")
    first = crypto.configured_keys()
    assert crypto.configured_keys() == first
    path = tmp_path / "encryption_keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 1


def test_the_key_file_is_read_again_only_after_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(crypto.KEYS_ENV, raising=False)
    monkeypatch.setattr(get_settings(), "secret_key_file", tmp_path / "secret_key")
    path = tmp_path / "encryption_keys"
    path.write_text(KEY_A + "\n")
    reads: list[Path] = []
    read_text = Path.read_text

    def counting(self: Path, *args: object, **kwargs: object) -> str:
        reads.append(self)
        return read_text(self)

    monkeypatch.setattr(Path, "read_text", counting)
    token = crypto.encrypt("token")
    for _ in range(5):
        assert crypto.decrypt(token) == "token"
    assert reads == [path]
    # Rotation puts a new key first: the next look-up sees it.
    path.write_text(f"{KEY_B}\n{KEY_A}\n")
    assert crypto.configured_keys() == [KEY_B, KEY_A]
    assert len(reads) == 2


def test_an_empty_key_list_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(crypto.KEYS_ENV, " , ")
    with pytest.raises(RuntimeError, match=crypto.KEYS_ENV):
        crypto.configured_keys()


def test_the_column_stores_tokens_and_returns_plain_text(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(crypto.KEYS_ENV, KEY_A)
    session.add(ChannelCredential(name="x.bearer_token", value="plain-bearer"))
    session.commit()
    session.expunge_all()
    raw = session.execute(text("SELECT value FROM channel_credential")).scalar_one()
    assert raw != "plain-bearer"
    assert Fernet(KEY_A.encode()).decrypt(raw.encode()) == b"plain-bearer"
    assert session.get_one(ChannelCredential, "x.bearer_token").value == "plain-bearer"
