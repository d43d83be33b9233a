"""post_variant: per-platform texts of a post; assignment.variant: which one an ASN got

An editor may give a platform its own text (position 0, e.g. a shorter X text) and up
to five alternative captions (1..5); all are approved with the post. Dispatch spreads
them evenly over the ASN and records the position on each assignment.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "post_variant",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["post.id"]),
        sa.PrimaryKeyConstraint("post_id", "platform", "position"),
    )
    with op.batch_alter_table("assignment") as batch:
        batch.add_column(
            sa.Column("variant", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("variant")
    op.drop_table("post_variant")
