"""channel_session: the instagrapi institution session (encrypted) and its call pacing

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    # settings is a Fernet token (gaung.crypto.EncryptedString) of the session JSON.
    op.create_table(
        "channel_session",
        sa.Column("name", _str(length=40), nullable=False),
        sa.Column("username", _str(length=100), nullable=False),
        sa.Column("settings", sa.String(), nullable=True),
        sa.Column("next_call_at", _time(), nullable=True),
        sa.Column("last_error", _str(length=500), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("channel_session")
