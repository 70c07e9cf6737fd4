"""keyed audit chain and denial aggregates

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 15:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing events keep key_id NULL (plain SHA-256); the first start with an audit key
    # re-signs them (labelloop.store.events.seal_unkeyed).
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    op.create_table(
        "denials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_denials")),
        sa.UniqueConstraint("minute", "source", "actor", "action", name=op.f("uq_denials_minute")),
    )


def downgrade() -> None:
    op.drop_table("denials")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("key_id")
