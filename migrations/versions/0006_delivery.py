"""delivery: reminders per campaign, ASN delivery preferences and Telegram linking,
outbox campaign/kind/priority/retryable, public feedback, Telegram update cursor

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_hours", _str(length=60), nullable=True))

    with op.batch_alter_table("asn", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_link_hash", _str(length=64), nullable=True))
        batch_op.add_column(sa.Column("telegram_link_expires_at", _time(), nullable=True))
        batch_op.add_column(
            sa.Column("mute_reminders", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("digest", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(
            batch_op.f("ix_asn_telegram_link_hash"), ["telegram_link_hash"], unique=False
        )

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("kind", _str(length=20), nullable=False, server_default="assignment")
        )
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("retryable", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_foreign_key(
            "fk_outbox_message_campaign_id_campaign", "campaign", ["campaign_id"], ["id"]
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_message_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_message_urgent",
            ["status", "run_at"],
            unique=False,
            sqlite_where=sa.text("priority > 0"),
            postgresql_where=sa.text("priority > 0"),
        )
    # Messages written before this revision were all assignment notices.
    op.execute(
        "UPDATE outbox_message SET campaign_id = (SELECT assignment.campaign_id FROM assignment"
        " WHERE assignment.id = outbox_message.assignment_id) WHERE assignment_id IS NOT NULL"
    )

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("asn_id", sa.Integer(), nullable=True),
        sa.Column("text", _str(length=2000), nullable=False),
        sa.Column("link", _str(length=500), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("handled_at", _time(), nullable=True),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["asn_id"], ["asn.id"]),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignment.id"]),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["handled_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_feedback_assignment_id"), ["assignment_id"], unique=False
        )

    op.create_table(
        "telegram_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("update_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("telegram_cursor")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_assignment_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_campaign_id"))
    op.drop_table("feedback")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_urgent")
        batch_op.drop_index(batch_op.f("ix_outbox_message_campaign_id"))
        batch_op.drop_constraint("fk_outbox_message_campaign_id_campaign", type_="foreignkey")
        batch_op.drop_column("retryable")
        batch_op.drop_column("priority")
        batch_op.drop_column("kind")
        batch_op.drop_column("campaign_id")
    with op.batch_alter_table("asn", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asn_telegram_link_hash"))
        batch_op.drop_column("digest")
        batch_op.drop_column("mute_reminders")
        batch_op.drop_column("telegram_link_expires_at")
        batch_op.drop_column("telegram_link_hash")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("reminder_hours")
