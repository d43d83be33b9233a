"""enrolment: invitations, ownership checks, review columns, account user id known later

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("token", _str(length=64), nullable=False),
        sa.Column("label", _str(length=200), nullable=False),
        sa.Column("expires_at", _time(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("revoked_at", _time(), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["revoked_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitation_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "ownership_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("code", _str(length=20), nullable=False),
        sa.Column("expires_at", _time(), nullable=False),
        sa.Column("state", _str(length=20), nullable=False),
        sa.Column("detail", _str(length=500), nullable=False),
        sa.Column("proof_url", _str(length=500), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("checked_at", _time(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["social_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id"),
    )

    with op.batch_alter_table("asn", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invitation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_at", _time(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", _time(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("review_note", _str(length=500), nullable=True))
        batch_op.create_foreign_key("fk_asn_invitation_id", "invitation", ["invitation_id"], ["id"])
        batch_op.create_foreign_key("fk_asn_reviewed_by", "user", ["reviewed_by"], ["id"])

    # Self-enrolment knows the handle only; the ownership check fills the user id in.
    with op.batch_alter_table("social_account", schema=None) as batch_op:
        batch_op.alter_column(
            "platform_user_id",
            existing_type=_str(length=64),
            existing_nullable=False,
            nullable=True,
        )


def downgrade() -> None:
    # Accounts whose user id was never learned cannot survive the NOT NULL column.
    op.execute(
        "DELETE FROM ownership_check WHERE account_id IN "
        "(SELECT id FROM social_account WHERE platform_user_id IS NULL)"
    )
    op.execute(
        "UPDATE assignment SET account_id = NULL WHERE account_id IN "
        "(SELECT id FROM social_account WHERE platform_user_id IS NULL)"
    )
    op.execute("DELETE FROM social_account WHERE platform_user_id IS NULL")
    with op.batch_alter_table("social_account", schema=None) as batch_op:
        batch_op.alter_column(
            "platform_user_id",
            existing_type=_str(length=64),
            existing_nullable=True,
            nullable=False,
        )
    with op.batch_alter_table("asn", schema=None) as batch_op:
        batch_op.drop_constraint("fk_asn_reviewed_by", type_="foreignkey")
        batch_op.drop_constraint("fk_asn_invitation_id", type_="foreignkey")
        batch_op.drop_column("review_note")
        batch_op.drop_column("reviewed_by")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("approved_at")
        batch_op.drop_column("invitation_id")
    op.drop_table("ownership_check")
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitation_agency_id"))
    op.drop_table("invitation")
