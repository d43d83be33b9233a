"""outbox: messenger messages written with the assignments; Telegram chat id per ASN

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_String = sqlmodel.sql.sqltypes.AutoString
_Time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _String(length=200), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("asn_id", sa.Integer(), nullable=False),
        sa.Column("messenger", _String(length=20), nullable=False),
        sa.Column("recipient", _String(length=254), nullable=True),
        sa.Column("subject", _String(length=500), nullable=False),
        sa.Column("text", _String(length=5000), nullable=False),
        sa.Column("html", _String(length=20000), nullable=True),
        sa.Column("template", _String(length=100), nullable=True),
        sa.Column("params", _String(length=4000), nullable=True),
        sa.Column("status", _String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_at", _Time(), nullable=False),
        sa.Column("lease_until", _Time(), nullable=True),
        sa.Column("worker", _String(length=100), nullable=True),
        sa.Column("provider_id", _String(length=200), nullable=True),
        sa.Column("last_error", _String(length=4000), nullable=True),
        sa.Column("created_at", _Time(), nullable=False),
        sa.Column("sent_at", _Time(), nullable=True),
        sa.ForeignKeyConstraint(["asn_id"], ["asn.id"]),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignment.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_message_due", ["status", "run_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_message_asn_id"), ["asn_id"], unique=False)
    with op.batch_alter_table("asn", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_chat_id", _String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("asn", schema=None) as batch_op:
        batch_op.drop_column("telegram_chat_id")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_asn_id"))
        batch_op.drop_index("ix_outbox_message_due")
    op.drop_table("outbox_message")
