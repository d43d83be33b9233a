"""feedback_reply: Humas' answers to public feedback; feedback.notified_at for the digest

Humas answers a feedback item from the console; the answer is shown to the ASN and sent
to them once (``form_key``: one reply per submitted form). ``feedback.notified_at``
records when the Humas digest took an item in; items already there are marked as told,
so the first digest after the upgrade does not mail the whole history.

Revision ID: 0021
Revises: 0026
Create Date: 2026-12-05 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "feedback_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("text", _str(length=2000), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("form_key", _str(length=64), nullable=False),
        sa.ForeignKeyConstraint(["feedback_id"], ["feedback.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feedback_id", "form_key", name="uq_feedback_reply_form"),
    )
    with op.batch_alter_table("feedback") as batch_op:
        batch_op.add_column(sa.Column("notified_at", _time(), nullable=True))
    op.execute("UPDATE feedback SET notified_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch_op:
        batch_op.drop_column("notified_at")
    op.drop_table("feedback_reply")
