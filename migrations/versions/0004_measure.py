"""measure: metrics snapshots at 1h/24h/72h, API calls per day, reach snapshots, click index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def _counts() -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=True) for name in _COUNTS]


_COUNTS = ("impressions", "likes", "reposts", "replies")


def upgrade() -> None:
    op.create_table(
        "repost_metrics",
        *_counts(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("platform", _str(length=20), nullable=False),
        sa.Column("window", _str(length=4), nullable=False),
        sa.Column("platform_post_id", _str(length=100), nullable=False),
        sa.Column("taken_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignment.id"]),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assignment_id", "window", name="uq_repost_metrics_window"),
    )
    op.create_index("ix_repost_metrics_campaign", "repost_metrics", ["campaign_id"])

    op.create_table(
        "post_metrics",
        *_counts(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("platform", _str(length=20), nullable=False),
        sa.Column("window", _str(length=4), nullable=False),
        sa.Column("platform_post_id", _str(length=100), nullable=False),
        sa.Column("taken_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["post_id"], ["post.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("post_id", "platform", "window", name="uq_post_metrics_window"),
    )
    op.create_index("ix_post_metrics_campaign", "post_metrics", ["campaign_id"])

    op.create_table(
        "api_usage",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("platform", _str(length=20), nullable=False),
        sa.Column("purpose", _str(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "platform", "purpose", "day"),
    )

    # The reach aggregate counts clicks per assignment with an index-only scan of this.
    op.create_index("ix_click_campaign_assignment", "click", ["campaign_id", "assignment_id"])

    op.create_table(
        "reach_snapshot",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", _time(), nullable=False),
        sa.Column("assignments", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("payload", _str(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.PrimaryKeyConstraint("campaign_id"),
    )


def downgrade() -> None:
    op.drop_table("reach_snapshot")
    op.drop_index("ix_click_campaign_assignment", table_name="click")
    op.drop_table("api_usage")
    op.drop_index("ix_post_metrics_campaign", table_name="post_metrics")
    op.drop_table("post_metrics")
    op.drop_index("ix_repost_metrics_campaign", table_name="repost_metrics")
    op.drop_table("repost_metrics")
