"""skills, dynamic overlap, gold questions and annotator flags

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 16:20:06.767270
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wanted", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("skill", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("is_gold", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("gold_note", sa.Text(), nullable=True))

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("flag_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("flag_reason")
        batch_op.drop_column("flagged_at")

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("gold_note")
        batch_op.drop_column("is_gold")
        batch_op.drop_column("skill")
        batch_op.drop_column("wanted")
