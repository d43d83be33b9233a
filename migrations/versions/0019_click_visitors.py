"""click_visitors: click.clicker (a keyed, daily-salted hash of who clicked) and bot_fetch

Link-preview fetchers and other known bots are no longer clicks: they are counted per
link and day in ``bot_fetch``. ``click.clicker`` lets unique clickers per link and day
be counted without storing an address (assignments.tracking).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("click") as batch_op:
        batch_op.add_column(sa.Column("clicker", sa.BigInteger(), nullable=True))
    op.create_table(
        "bot_fetch",
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("fetches", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignment.id"]),
        sa.PrimaryKeyConstraint("assignment_id", "day"),
    )
    op.create_index("ix_bot_fetch_campaign_id", "bot_fetch", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_bot_fetch_campaign_id", table_name="bot_fetch")
    op.drop_table("bot_fetch")
    with op.batch_alter_table("click") as batch_op:
        batch_op.drop_column("clicker")
