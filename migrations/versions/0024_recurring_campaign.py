"""recurring_campaign: campaign_recurrence (an RFC 5545 rule per campaign) and
recurrence_occurrence (each occurrence made, once)

The hourly ``recurring_campaigns`` job copies a repeating campaign and its posts as
drafts for every occurrence of the coming week (content.recurrence).

Revision ID: 0024
Revises: 0025
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0024"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "campaign_recurrence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("rule", _str(length=300), nullable=False),
        sa.Column("first_at", _time(), nullable=False),
        sa.Column("timezone", _str(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id"),
    )
    op.create_index(
        op.f("ix_campaign_recurrence_active"), "campaign_recurrence", ["active"], unique=False
    )
    op.create_table(
        "recurrence_occurrence",
        sa.Column("recurrence_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", _str(length=20), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["recurrence_id"], ["campaign_recurrence.id"]),
        sa.PrimaryKeyConstraint("recurrence_id", "occurrence"),
    )


def downgrade() -> None:
    op.drop_table("recurrence_occurrence")
    op.drop_index(op.f("ix_campaign_recurrence_active"), table_name="campaign_recurrence")
    op.drop_table("campaign_recurrence")
