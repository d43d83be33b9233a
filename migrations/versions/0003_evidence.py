"""verification evidence, repost-search cursors, assignment verification columns

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("check", _str(length=20), nullable=False),
        sa.Column("outcome", _str(length=20), nullable=False),
        sa.Column("reason", _str(length=40), nullable=True),
        sa.Column("platform_post_id", _str(length=100), nullable=True),
        sa.Column("url", _str(length=500), nullable=True),
        sa.Column("detail", _str(length=1000), nullable=False),
        sa.Column("seen_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignment.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_assignment_id"), ["assignment_id"], unique=False
        )

    op.create_table(
        "verify_cursor",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("platform", _str(length=20), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("since_id", _str(length=40), nullable=True),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("last_run_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["post_id"], ["post.id"]),
        sa.PrimaryKeyConstraint("post_id", "platform"),
    )
    with op.batch_alter_table("verify_cursor", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verify_cursor_campaign_id"), ["campaign_id"], unique=False
        )

    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_at", _time(), nullable=True))
        batch_op.add_column(sa.Column("rejection_reason", _str(length=40), nullable=True))
        batch_op.add_column(sa.Column("flagged_gone_at", _time(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_column("flagged_gone_at")
        batch_op.drop_column("rejection_reason")
        batch_op.drop_column("verified_at")
    with op.batch_alter_table("verify_cursor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verify_cursor_campaign_id"))
    op.drop_table("verify_cursor")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_assignment_id"))
    op.drop_table("evidence")
