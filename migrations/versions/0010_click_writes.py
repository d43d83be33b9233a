"""click_writes: clicks drop their campaign foreign key and the index the composite covers

Every tracking redirect becomes a click row, written in batches by the web process
(assignments.tracking). On PostgreSQL each row's foreign-key checks cost more than the
rest of its insert (bench/redirect.py). ``click.campaign_id`` is a copy of its
assignment's ``campaign_id`` (the dashboard reads clicks by campaign without a join),
so the assignment's key already vouches for it; ``ix_click_campaign_id`` is the leading
column of ``ix_click_campaign_assignment``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 20:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's foreign keys have no names; batch mode names the reflected ones with this
# convention, so the one to drop can be addressed (and PostgreSQL's is named alike below).
_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_SQLITE_FK = "fk_click_campaign_id_campaign"
_PG_FK = "click_campaign_id_fkey"


def upgrade() -> None:
    op.drop_index("ix_click_campaign_id", table_name="click")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("click", naming_convention=_NAMING) as batch_op:
            batch_op.drop_constraint(_SQLITE_FK, type_="foreignkey")
    else:
        op.drop_constraint(_PG_FK, "click", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("click") as batch_op:
            batch_op.create_foreign_key(_SQLITE_FK, "campaign", ["campaign_id"], ["id"])
    else:
        op.create_foreign_key(_PG_FK, "click", "campaign", ["campaign_id"], ["id"])
    op.create_index("ix_click_campaign_id", "click", ["campaign_id"])
