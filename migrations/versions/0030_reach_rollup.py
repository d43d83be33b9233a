"""reach_rollup: live reach counters per (campaign, unit, platform), kept by triggers

The additive reach figures (assignments.rollup) with the triggers that add each change to
them in its own transaction, on assignment, click and evidence; filled from the existing rows
(a recount) before the triggers start counting. The trigger text is assignments.rollup's: a
later change to it comes with a migration that drops and recreates them.

Revision ID: 0030
Revises: 0031 (streaming dispatch, which revises 0023)
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from assignments.rollup import backfill_sql, create_triggers_sql, drop_triggers_sql

revision: str = "0030"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_COUNTERS = (
    "assignments",
    "reported",
    "verified",
    "declined",
    "rejected",
    "expired",
    "withdrawn",
    "deleted_after_verification",
    "checkable",
    "checkable_verified",
    "unverifiable",
    "clicks",
)


def upgrade() -> None:
    op.create_table(
        "reach_rollup",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("platform", _str(length=20), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTERS[:7]),
        sa.Column("potential_reach", sa.BigInteger(), nullable=False),
        sa.Column("verified_reach", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTERS[7:]),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("campaign_id", "unit_id", "platform"),
    )
    op.create_index("ix_reach_rollup_agency_id", "reach_rollup", ["agency_id"], unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # no write between the recount and the first trigger
        op.execute("LOCK TABLE assignment, click, evidence IN SHARE ROW EXCLUSIVE MODE")
    op.execute(backfill_sql())
    for statement in create_triggers_sql(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_triggers_sql(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_index("ix_reach_rollup_agency_id", table_name="reach_rollup")
    op.drop_table("reach_rollup")
