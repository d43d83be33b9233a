"""outbox_message: the delivery loop's indexes lead with (status, messenger, run_at)

scheduler.deliver asks each messenger whether it has a due message and claims one
messenger's due messages, urgent ones first, oldest first. ``(status, run_at)`` made both
read the other messengers' backlog (and a DISTINCT over every due row); the new index and
the urgent partial index with ``messenger`` answer them directly. The old
``ix_outbox_message_due`` goes: the new one serves every query it served.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 12:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_URGENT = sa.text("priority > 0")


def upgrade() -> None:
    op.drop_index("ix_outbox_message_due", table_name="outbox_message")
    op.drop_index("ix_outbox_message_urgent", table_name="outbox_message")
    op.create_index(
        "ix_outbox_message_due_messenger", "outbox_message", ["status", "messenger", "run_at"]
    )
    op.create_index(
        "ix_outbox_message_urgent",
        "outbox_message",
        ["status", "messenger", "run_at"],
        sqlite_where=_URGENT,
        postgresql_where=_URGENT,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_message_urgent", table_name="outbox_message")
    op.drop_index("ix_outbox_message_due_messenger", table_name="outbox_message")
    op.create_index(
        "ix_outbox_message_urgent",
        "outbox_message",
        ["status", "run_at"],
        sqlite_where=_URGENT,
        postgresql_where=_URGENT,
    )
    op.create_index("ix_outbox_message_due", "outbox_message", ["status", "run_at"])
