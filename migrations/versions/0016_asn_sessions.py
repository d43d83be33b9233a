"""asn.session_epoch: an ASN's sign-out and Humas's revocation end inbox sessions on the server

Bumped by the inbox's sign-out (every copy of the session cookie stops working) and, with
``login_epoch``, when Humas revokes an ASN's sign-in without suspending them. Added with a
server default, so SQLite needs no table rebuild.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "asn", sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("asn") as batch:
        batch.drop_column("session_epoch")
