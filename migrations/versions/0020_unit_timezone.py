"""unit_timezone: unit.timezone, a unit's own zone (NULL = its agency's)

A unit far from its agency's seat (a regional office in Makassar of a Jakarta ministry)
reads times in its own zone: unit, then agency, then the instance (gaung.i18n).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("unit") as batch_op:
        batch_op.add_column(sa.Column("timezone", _str(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unit") as batch_op:
        batch_op.drop_column("timezone")
