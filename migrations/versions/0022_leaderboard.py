"""leaderboard: agency.leaderboard (the admin's switch) and leaderboard_opt_in (ASN consent)

Recognition (issue 16): a monthly leaderboard per unit and agency of the ASN who opted in,
by verified reposts and clicks. ``leaderboard_opt_in`` holds each opt-in with its time (the
consent; revoking deletes the row); ``agency.leaderboard`` lets an agency turn it off.

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agency") as batch_op:
        batch_op.add_column(
            sa.Column("leaderboard", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "leaderboard_opt_in",
        sa.Column("asn_id", sa.Integer(), nullable=False),
        sa.Column("opted_in_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["asn_id"], ["asn.id"]),
        sa.PrimaryKeyConstraint("asn_id"),
    )


def downgrade() -> None:
    op.drop_table("leaderboard_opt_in")
    with op.batch_alter_table("agency") as batch_op:
        batch_op.drop_column("leaderboard")
