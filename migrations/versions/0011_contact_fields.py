"""contact_fields: stored phones to E.164 and e-mail addresses to lower case (gaung.fields)

Before gaung.fields the roster import kept phones as typed (``0812-3456-7890``) and the
inbox settings kept e-mail addresses as typed, while the enrolment form stored
``+6281234567890`` and lower case. Messengers need the international form and look-ups
compare the stored one, so existing ``asn.phone``, ``asn.email`` and ``user.email`` (staff
sign-in compares addresses case-insensitively) are rewritten with the same functions the
application now uses.

A value those functions refuse, or one whose normalised form another row already holds
(both e-mail columns are unique), is left exactly as it is and reported as a warning
naming the table, the row id and the field, for an operator to correct by hand.
Downgrade changes nothing: the old forms are not worth restoring.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 09:00:00
"""

import logging
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from gaung.errors import GaungError
from gaung.fields import normalise_email, normalise_phone

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Alembic's own logger: its "Running upgrade" lines and these warnings go to one place.
log = logging.getLogger("alembic.runtime.migration")

_asn = sa.table("asn", sa.column("id", sa.Integer), sa.column("phone"), sa.column("email"))
_user = sa.table("user", sa.column("id", sa.Integer), sa.column("email"))


def upgrade() -> None:
    bind = op.get_bind()
    _normalise(bind, _asn, "phone", normalise_phone, unique=False)
    _normalise(bind, _asn, "email", normalise_email, unique=True)
    _normalise(bind, _user, "email", normalise_email, unique=True)


def downgrade() -> None:
    pass


def _normalise(
    bind: sa.Connection,
    table: sa.TableClause,
    field: str,
    rule: Callable[[str], str],
    *,
    unique: bool,
) -> None:
    """Rewrite ``table.field`` with ``rule``; report (never change) what it cannot take."""
    column, key = table.c[field], table.c.id
    rows = bind.execute(sa.select(key, column).where(column.is_not(None)).order_by(key)).all()
    # Values held now, so a rewrite never collides with a unique constraint mid-way.
    held = {value for _id, value in rows} if unique else set()
    for row_id, value in rows:
        try:
            wanted = rule(value)
        except GaungError:
            _report(table.name, row_id, field, "is not valid")
            continue
        if wanted == value:
            continue
        if wanted in held:
            _report(table.name, row_id, field, "normalises to a value another row holds")
            continue
        bind.execute(sa.update(table).where(key == row_id).values({field: wanted}))
        if unique:
            held.discard(value)
            held.add(wanted)


def _report(table: str, row_id: int, field: str, why: str) -> None:
    # Ids only, like the audit log: the address or number itself stays out of the logs.
    log.warning("%s id %s, field %s: %s; left as it is", table, row_id, field, why)
