"""agency_sso: each agency's OpenID Connect provider for single sign-on (roster.oidc)

One row per agency that offers "Masuk dengan SSO": the issuer URL and the client id.
The client secret is not stored; it comes from GAUNG_OIDC__<SLUG>__CLIENT_SECRET.
A new table only, so SQLite needs no batch mode.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "agency_sso",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("issuer", _str(length=500), nullable=False),
        sa.Column("client_id", _str(length=200), nullable=False),
        sa.Column("allow_self_registration", sa.Boolean(), nullable=False),
        sa.Column("self_registration_domains", _str(length=500), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["updated_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("agency_id"),
    )


def downgrade() -> None:
    op.drop_table("agency_sso")
