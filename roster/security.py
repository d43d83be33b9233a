"""Password hashing (argon2), staff session revocation, signed magic-link tokens for ASN."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import event, inspect

from gaung.settings import get_settings
from roster.models import User

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session carries the epoch it was issued under."""
    user.session_epoch = (user.session_epoch or 0) + 1


def end_sessions_on_credential_change(_mapper: Any, _conn: Any, user: User) -> None:
    """A new password or a deactivation ends the user's sessions, whichever code made it.

    A mapper event rather than a call in each place that edits users, so a future form or
    command cannot forget it. (Bulk ``UPDATE`` statements bypass it: call end_sessions.)
    """
    state = inspect(user)
    deactivated = state.attrs.active.history.has_changes() and not user.active
    if state.attrs.password_hash.history.has_changes() or deactivated:
        end_sessions(user)


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


def install_session_guard() -> None:
    """Listen for credential changes on User (the composition root calls this once)."""
    if not event.contains(User, "before_update", end_sessions_on_credential_change):
        event.listen(User, "before_update", end_sessions_on_credential_change)
