"""staff_admin: agency settings, staff invitation and reset links, TOTP second factor

Agency: logo, time zone, default deadline, stricter follower minimums per platform, and
whether admins and approvers must use a second factor (all NULL/false = the instance's
settings). User: the TOTP secret (a Fernet token, gaung.crypto.EncryptedString), when it
was confirmed, and the last time step accepted. staff_token: one-time links to set a
password (only the SHA-256 of each token is stored).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.add_column(sa.Column("logo", _str(length=100), nullable=True))
        batch_op.add_column(sa.Column("timezone", _str(length=40), nullable=True))
        batch_op.add_column(sa.Column("default_deadline_hours", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("min_followers", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "require_two_factor", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )

    # totp_secret is a Fernet token (gaung.crypto.EncryptedString), never the plain secret.
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", _time(), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))

    op.create_table(
        "staff_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", _str(length=20), nullable=False),
        sa.Column("token_hash", _str(length=64), nullable=False),
        sa.Column("expires_at", _time(), nullable=False),
        sa.Column("used_at", _time(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("staff_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_token_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_token_user_id"))
    op.drop_table("staff_token")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret")
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.drop_column("require_two_factor")
        batch_op.drop_column("min_followers")
        batch_op.drop_column("default_deadline_hours")
        batch_op.drop_column("timezone")
        batch_op.drop_column("logo")
