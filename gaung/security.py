"""Password hashing (argon2) and signed magic-link tokens for ASN sign-in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from gaung.settings import get_settings

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret_key(), salt="gaung.magic-link")


def make_magic_token(asn_id: int, login_epoch: int) -> str:
    """A link token; bumping the ASN's login_epoch revokes every token already sent."""
    return _serializer().dumps({"a": asn_id, "e": login_epoch})


def read_magic_token(token: str) -> tuple[int, int] | None:
    """(asn_id, login_epoch) for a valid, unexpired token, else None."""
    max_age = get_settings().auth.magic_link_max_age_seconds
    try:
        data = _serializer().loads(token, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    asn_id, epoch = data.get("a"), data.get("e")
    if not isinstance(asn_id, int) or not isinstance(epoch, int):
        return None
    return asn_id, epoch


def magic_link_url(asn_id: int, login_epoch: int) -> str:
    base = get_settings().base_url.rstrip("/")
    return f"{base}/inbox/login/{make_magic_token(asn_id, login_epoch)}"
