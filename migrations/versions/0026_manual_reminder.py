"""manual_reminder: reminders sent by hand to the people of a unit who have not acted yet

One row per "send reminder" that queued messages (scheduler.manual_reminders): campaign,
unit, its sequence number (unique per campaign and unit, so two racing clicks cannot both
be the next), the click's request key (unique, so a retry never sends twice), who, when,
and how many were queued or skipped.

Revision ID: 0026
Revises: 0022
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0026"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "manual_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("request_key", _str(length=64), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", _time(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("skipped_recent", sa.Integer(), nullable=False),
        sa.Column("skipped_muted", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "unit_id", "seq", name="uq_manual_reminder_seq"),
        sa.UniqueConstraint(
            "campaign_id", "unit_id", "request_key", name="uq_manual_reminder_request"
        ),
    )
    op.create_index(
        op.f("ix_manual_reminder_campaign_id"), "manual_reminder", ["campaign_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_manual_reminder_campaign_id"), table_name="manual_reminder")
    op.drop_table("manual_reminder")
