"""weekly_report: staff who asked for the weekly report e-mail, and which weeks each was sent

weekly_report_subscription: one row per staff member who turned the report on, since when
(no row: off). weekly_report_mail: one row per person and ISO week, claimed before the send
so the report of a week goes out at most once (roster.weekly_report).

Revision ID: 0023
Revises: 0024
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0023"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "weekly_report_subscription",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("since", _time(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "weekly_report_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("week", _str(length=10), nullable=False),
        sa.Column("status", _str(length=10), nullable=False),
        sa.Column("claimed_at", _time(), nullable=False),
        sa.Column("sent_at", _time(), nullable=True),
        sa.Column("error", _str(length=500), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "week"),
    )
    with op.batch_alter_table("weekly_report_mail", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_weekly_report_mail_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("weekly_report_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_weekly_report_mail_user_id"))
    op.drop_table("weekly_report_mail")
    op.drop_table("weekly_report_subscription")
