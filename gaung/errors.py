"""User-facing errors that carry a translatable message and the facts behind it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def N_(message: str) -> str:  # noqa: N802 - gettext convention
    """Mark a string for extraction without translating it now."""
    return message


class GaungError(Exception):
    """Bad input or a forbidden transition.

    ``message`` is an English gettext msgid with ``%(name)s`` placeholders, so the
    web layer can show it in the reader's language; ``field`` names the input.
    """

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        self.message = message
        self.field = field
        self.params = params
        super().__init__(self.render(lambda m: m))

    def render(self, gettext: Callable[[str], str]) -> str:
        text = gettext(self.message)
        return text % self.params if self.params else text


class NotFoundError(GaungError):
    """The thing does not exist, or the caller may not see it (same answer on purpose)."""


class ForbiddenError(GaungError):
    """The caller is known but may not do this."""
