"""one live annotation per task: earlier double submits are flagged "duplicate", then a partial
unique index refuses a second live answer to a task

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 15:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LIVE = "task_id IS NOT NULL AND (flag IS NULL OR flag NOT IN ('retracted', 'duplicate'))"


def upgrade() -> None:
    op.execute(
        "UPDATE annotations SET flag = 'duplicate' "
        "WHERE task_id IS NOT NULL AND (flag IS NULL OR flag NOT IN ('retracted', 'duplicate')) "
        "AND id > (SELECT MIN(a2.id) FROM annotations a2 WHERE a2.task_id = annotations.task_id "
        "AND (a2.flag IS NULL OR a2.flag NOT IN ('retracted', 'duplicate')))"
    )
    op.create_index(
        "uq_annotations_live_task",
        "annotations",
        ["task_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_annotations_live_task", table_name="annotations")
