"""Encryption at rest for tokens and sessions kept in the database.

Keys come from the environment (``GAUNG_ENCRYPTION_KEYS``: comma-separated Fernet
keys, newest first) or, on a single machine, from a file made on first use
(``var/encryption_keys``, mode 600). ``MultiFernet`` decrypts with any listed key and
encrypts with the first, so rotating is: put a new key first, run
``gaung rotate-key`` to re-encrypt every stored value, then drop the old key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
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
    """``decrypt`` for a batch of stored values (Web Push reads two per device), through
    the same MultiFernet; None for a value no configured key decrypts."""
    keys = fernet()
    found: list[str | None] = []
    for token in tokens:
        try:
            found.append(keys.decrypt(token.encode()).decode())
        except (InvalidToken, UnicodeDecodeError):
            found.append(None)
    return found


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
