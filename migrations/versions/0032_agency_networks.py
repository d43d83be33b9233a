"""agency networks and cross-agency campaign offers

``agency_network`` (one per coordinator agency) and its members; ``campaign_offer``: a
coordinator's campaign offered to a member, accepted (with the member's own copy of the
campaign) or declined with a note; ``campaign.source_campaign_id`` and
``post.source_post_id`` link a member's copy to what it repeats (content.offers).

Revision ID: 0032
Revises: 0030
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from assignments.rollup import create_triggers_sql, drop_triggers_sql

revision: str = "0032"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime
_LINKS = (("campaign", "source_campaign_id", "campaign"), ("post", "source_post_id", "post"))


def upgrade() -> None:
    op.create_table(
        "agency_network",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _str(length=200), nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["coordinator_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("coordinator_id"),
    )
    op.create_table(
        "agency_network_member",
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("added_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["network_id"], ["agency_network.id"]),
        sa.PrimaryKeyConstraint("network_id", "agency_id"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, target in _LINKS:
        if sqlite:  # ADD COLUMN ... REFERENCES: no table rebuild (reach_rollup's triggers)
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)")
        else:
            op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(f"fk_{table}_{column}", table, target, [column], ["id"])
        op.create_index(f"ix_{table}_{column}", table, [column])
    op.create_table(
        "campaign_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("status", _str(length=20), nullable=False),
        sa.Column("offered_by", sa.Integer(), nullable=True),
        sa.Column("offered_at", _time(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", _time(), nullable=True),
        sa.Column("note", _str(length=2000), nullable=True),
        sa.Column("copy_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["copy_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["network_id"], ["agency_network.id"]),
        sa.ForeignKeyConstraint(["offered_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "agency_id", name="uq_campaign_offer"),
    )
    op.create_index("ix_campaign_offer_campaign_id", "campaign_offer", ["campaign_id"])
    op.create_index("ix_campaign_offer_agency_id", "campaign_offer", ["agency_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_offer_agency_id", table_name="campaign_offer")
    op.drop_index("ix_campaign_offer_campaign_id", table_name="campaign_offer")
    op.drop_table("campaign_offer")
    dialect = op.get_bind().dialect.name
    # SQLite drops a referencing column only by rebuilding the table, which the roll-up
    # triggers on campaign and post would not survive: they go first and come back after.
    for statement in drop_triggers_sql(dialect) if dialect == "sqlite" else []:
        op.execute(statement)
    for table, column, _target in _LINKS:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        if dialect == "sqlite":
            with op.batch_alter_table(table) as batch:
                batch.drop_column(column)
        else:
            op.drop_constraint(f"fk_{table}_{column}", table, type_="foreignkey")
            op.drop_column(table, column)
    for statement in create_triggers_sql(dialect) if dialect == "sqlite" else []:
        op.execute(statement)
    op.drop_table("agency_network_member")
    op.drop_table("agency_network")
