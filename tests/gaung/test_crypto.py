"""Encryption at rest: Fernet keys newest first, the EncryptedString column type."""

from __future__ import annotations

import base64
import hmac
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
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


@given(st.lists(st.tuples(st.text(max_size=120), st.booleans()), max_size=20))
def test_many_values_decrypt_at_once_as_one_by_one(values: list[tuple[str, bool]]) -> None:
    """Values from the older key and the newer one, of every length, in one call."""
    boxes = {True: Fernet(KEY_B.encode()), False: Fernet(KEY_A.encode())}
    tokens = [boxes[newer].encrypt(plain.encode()).decode() for plain, newer in values]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(crypto.KEYS_ENV, f"{KEY_B},{KEY_A}")
        assert crypto.decrypt_many(tokens) == [plain for plain, _ in values]
        assert crypto.decrypt_many(tokens) == [crypto.decrypt(t) for t in tokens]


def _signed(key: str, padded: bytes) -> str:
    """A Fernet token for ``padded`` as given (no padding added), with a valid MAC."""
    raw = base64.urlsafe_b64decode(key)
    iv = bytes(16)
    encryptor = Cipher(algorithms.AES(raw[16:]), modes.CBC(iv)).encryptor()
    body = b"\x80" + bytes(8) + iv + encryptor.update(padded) + encryptor.finalize()
    mac = hmac.digest(raw[:16], body, "sha256")
    return base64.urlsafe_b64encode(body + mac).decode()


def test_a_value_no_key_vouches_for_is_none_and_the_others_still_decrypt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(crypto.KEYS_ENV, KEY_A)
    good = crypto.encrypt("https://push.example/send/1")
    raw = bytearray(base64.urlsafe_b64decode(good))

    def altered(at: int) -> str:
        copy = bytearray(raw)
        copy[at] ^= 1
        return base64.urlsafe_b64encode(bytes(copy)).decode()

    other = Fernet(Fernet.generate_key()).encrypt(b"x").decode()
    bad = [
        _signed(KEY_A, b"sixteen octets!!"),  # MAC right, padding wrong
        _signed(KEY_A, b"\xff\xfe" + bytes([14]) * 14),  # padding right, not UTF-8
        altered(5),  # timestamp
        altered(12),  # IV
        altered(30),  # ciphertext
        altered(len(raw) - 1),  # MAC
        good[:-8],  # cut short
        other,  # another key's
        "not base64 at all!",
        "",
    ]
    assert crypto.decrypt_many([good, *bad, good]) == [
        "https://push.example/send/1", *[None] * len(bad), "https://push.example/send/1"
    ]  # fmt: skip
    for token in bad:
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(token)


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
