"""Encryption at rest for tokens and sessions kept in the database.

Keys come from the environment (``GAUNG_ENCRYPTION_KEYS``: comma-separated Fernet
keys, newest first) or, on a single machine, from a file made on first use
(``var/encryption_keys``, mode 600). ``MultiFernet`` decrypts with any listed key and
encrypts with the first, so rotating is: put a new key first, run
``gaung rotate-key`` to re-encrypt every stored value, then drop the old key.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from gaung.settings import get_settings

KEYS_ENV = "GAUNG_ENCRYPTION_KEYS"


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""


def _keys_file() -> Path:
    return get_settings().secret_key_file.with_name("encryption_keys")


# The key file's text by path, with its mtime and size: read again only when they change
# (decrypting a stored value looks the keys up every time).
_key_files: dict[Path, tuple[int, int, str]] = {}


def _key_file_text(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode() + "\n")
        path.chmod(0o600)
    info = path.stat()
    found = _key_files.get(path)
    if found is not None and found[:2] == (info.st_mtime_ns, info.st_size):
        return found[2]
    text = path.read_text()
    _key_files[path] = (info.st_mtime_ns, info.st_size, text)
    return text


def configured_keys() -> list[str]:
    """The keys, newest first: from the environment, else from the key file."""
    raw = os.environ.get(KEYS_ENV, "") or _key_file_text(_keys_file())
    keys = [k.strip() for k in raw.replace("\n", ",").split(",") if k.strip()]
    if not keys:
        raise RuntimeError(f"{KEYS_ENV} is set but holds no key")
    return keys


@lru_cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(configured_keys()))


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except (InvalidToken, UnicodeDecodeError) as exc:
        raise DecryptionError("stored value cannot be decrypted with the configured keys") from exc


def decrypt_many(tokens: Sequence[str]) -> list[str | None]:
    """``decrypt`` for many stored values at once (Web Push reads two per device): each
    value's MAC checked as Fernet does, then one AES operation per key for all of them
    instead of a cipher object per value (about 3 us a value instead of 7). None for a
    value no configured key decrypts."""
    keys = _halves(tuple(configured_keys()))
    found: list[str | None] = [None] * len(tokens)
    by_key: dict[int, list[tuple[int, bytes]]] = {}
    for position, token in enumerate(tokens):
        try:
            data = base64.urlsafe_b64decode(token)
        except (TypeError, ValueError):
            continue
        # version 0x80, timestamp (8), IV (16), whole AES blocks (>= 1), HMAC-SHA256 (32)
        if len(data) < 73 or data[0] != 0x80 or (len(data) - 57) % 16:
            continue
        signed, mac = data[:-32], data[-32:]
        for number, (signing, _) in enumerate(keys):
            if hmac.compare_digest(hmac.digest(signing, signed, "sha256"), mac):
                by_key.setdefault(number, []).append((position, data))
                break
    for number, members in by_key.items():
        # CBC decryption is each block decrypted alone, XORed with the block before it
        # (the IV before the first): all blocks of all values in one call, then the XOR.
        blocks = Cipher(algorithms.AES(keys[number][1]), modes.ECB()).decryptor()  # noqa: S305
        plain = blocks.update(b"".join(data[25:-32] for _, data in members))
        start = 0
        for position, data in members:
            size = len(data) - 57
            chained = data[9 : 9 + size]  # IV, then every ciphertext block but the last
            mixed = int.from_bytes(plain[start : start + size], "big")
            padded = (mixed ^ int.from_bytes(chained, "big")).to_bytes(size, "big")
            start += size
            pad = padded[-1]
            if not 1 <= pad <= 16 or padded[-pad:] != bytes((pad,)) * pad:
                continue
            try:
                found[position] = padded[:-pad].decode()
            except UnicodeDecodeError:
                continue
    return found


@lru_cache
def _halves(keys: tuple[str, ...]) -> list[tuple[bytes, bytes]]:
    """Each Fernet key's signing and encryption halves."""
    raw = [base64.urlsafe_b64decode(key) for key in keys]
    return [(key[:16], key[16:]) for key in raw]


def rotate(token: str) -> str:
    """Re-encrypt a stored value with the newest key (for ``gaung rotate-key``)."""
    return fernet().rotate(token.encode()).decode()


class EncryptedString(TypeDecorator[str]):
    """A string column stored as a Fernet token; Python code only sees plain text."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)
