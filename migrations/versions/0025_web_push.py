"""web_push: push_subscription (an ASN's devices) and vapid_key (the instance's key pair)

The endpoint and the auth secret of a subscription and the VAPID private key are Fernet
tokens (gaung.crypto), so they are plain strings here; the endpoint's sha256 keeps one
row per device.

Revision ID: 0025
Revises: 0021
Create Date: 2026-12-05 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0025"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "push_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asn_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(), nullable=False),
        sa.Column("endpoint_hash", _str(length=64), nullable=False),
        sa.Column("origin", _str(length=200), nullable=False),
        sa.Column("p256dh", _str(length=100), nullable=False),
        sa.Column("auth", sa.String(), nullable=False),
        sa.Column("label", _str(length=100), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_success_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["asn_id"], ["asn.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint_hash"),
    )
    op.create_index("ix_push_subscription_asn_id", "push_subscription", ["asn_id"])
    op.create_table(
        "vapid_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("private_key", sa.String(), nullable=False),
        sa.Column("public_key", _str(length=100), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("vapid_key")
    op.drop_index("ix_push_subscription_asn_id", table_name="push_subscription")
    op.drop_table("push_subscription")
