"""Free text typed by people: refuse what no database column should hold."""

from __future__ import annotations

import re

from gaung.errors import N_, GaungError

# C0 controls except tab, line feed and carriage return, plus DEL. PostgreSQL refuses NUL
# outright; the others are never typed on purpose and break CSV exports and messages.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str, field: str) -> str:
    """``value`` stripped; a GaungError naming ``field`` if it holds control characters."""
    if _CONTROL.search(value):
        raise GaungError(N_("The text contains control characters; remove them."), field=field)
    return value.strip()
