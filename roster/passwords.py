"""The rule for a staff password, and changing one's own password.

At least 12 characters, at most 128, and not guessable: zxcvbn (Dropbox's estimator, with
its list of 30,000 common passwords, names and words) must score it at least 3 of 4 with
the person's e-mail, name and agency counted as known words. A password on the list, a
keyboard run or a repeated word scores lower and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from threading import Lock

from sqlmodel import Session
from zxcvbn import zxcvbn

from gaung.errors import N_, GaungError
from kernel import audit
from roster.models import User
from roster.security import hash_password, verify_password

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_SCORE = 3
# zxcvbn keeps the user inputs in a module-level dictionary while it scores.
_zxcvbn_lock = Lock()


def check_new_password(password: str, *, known: Iterable[str] = (), field: str = "password") -> str:
    """The password when it is acceptable; GaungError naming ``field`` when not."""
    if len(password) < MIN_LENGTH:
        raise GaungError(
            N_("The password needs at least %(min)s characters."), field=field, min=MIN_LENGTH
        )
    if len(password) > MAX_LENGTH:
        raise GaungError(
            N_("The password may have at most %(max)s characters."), field=field, max=MAX_LENGTH
        )
    words = [w for value in known for w in _words(value)]
    with _zxcvbn_lock:
        # zxcvbn scores the first 72 characters; a longer password is only stronger.
        score = int(zxcvbn(password[:72], user_inputs=[*words, "gaung"])["score"])
    if score < MIN_SCORE:
        raise GaungError(
            N_(
                "This password is too common or too easy to guess. Use a longer phrase "
                "of several unrelated words."
            ),
            field=field,
        )
    return password


def _words(value: str) -> list[str]:
    """The value and its parts: an e-mail's local part and domain, a name's words."""
    parts = value.lower().replace("@", " ").replace(".", " ").split()
    return [value.lower(), *parts]


def known_words(user: User, agency_name: str = "") -> list[str]:
    return [user.email, user.name, agency_name]


def change_password(
    session: Session, user: User, *, current: str, new: str, confirm: str, agency_name: str = ""
) -> None:
    """Change one's own password (current one required); ends every other session. Commits.

    The session guard (roster.security) bumps the session epoch when the hash changes.
    """
    if not verify_password(user.password_hash, current):
        raise GaungError(N_("The current password is not correct."), field="current_password")
    check_new_password(new, known=known_words(user, agency_name), field="new_password")
    if new != confirm:
        raise GaungError(N_("The two new passwords are not the same."), field="confirm_password")
    user.password_hash = hash_password(new)
    session.add(user)
    audit.record(
        session,
        actor=user,
        action="user.password_changed",
        entity="user",
        entity_id=user.id,
        agency_id=user.agency_id,
    )
    session.commit()
