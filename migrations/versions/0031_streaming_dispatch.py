"""streaming_dispatch: dispatch_part, and assignment.text dropped

Each part (post, agency, optional unit filter) keeps its keyset cursor and progress
(done/total) so a crashed dispatch resumes after its last committed chunk. The text of an
assignment is rendered from its post, platform, variant and code when read
(assignments.texts) instead of a copy in every row; a downgrade restores the column
filled with the post's master text (the exact rendition needs the application).

Revision ID: 0031
Revises: 0023
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0031"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "dispatch_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("unit_filter", _str(length=2000), nullable=False),
        sa.Column("status", _str(length=20), nullable=False),
        sa.Column("platform_index", sa.Integer(), nullable=False),
        sa.Column("after_asn_id", sa.Integer(), nullable=False),
        sa.Column("platform_done", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["post_id"], ["post.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("post_id", "agency_id", "unit_filter", name="uq_dispatch_part"),
    )
    op.create_index("ix_dispatch_part_post_id", "dispatch_part", ["post_id"])
    with op.batch_alter_table("assignment") as batch_op:
        batch_op.drop_column("text")


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch_op:
        batch_op.add_column(sa.Column("text", _str(length=5000), nullable=False, server_default=""))
    op.execute(
        "UPDATE assignment SET text ="
        " (SELECT master_text FROM post WHERE post.id = assignment.post_id)"
    )
    op.drop_index("ix_dispatch_part_post_id", table_name="dispatch_part")
    op.drop_table("dispatch_part")
