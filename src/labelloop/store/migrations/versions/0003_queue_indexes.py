"""queue indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 15:24:57.770412
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_items_project_status_priority", ["project_id", "status", "priority"], unique=False
        )

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_project_assignee", ["project_id", "assignee"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_project_assignee")

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_project_status_priority")
