"""token expiry and revocation, credential epochs

Every user gets a credentials epoch, every session and API token the epoch it was issued in; a
"log out everywhere" raises the user's epoch. API tokens get an expiry: those made before this
revision expire 90 days after it. Login attempts are kept with whether they succeeded.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 15:40:00.000000
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GRACE = timedelta(days=90)  # the lifetime of tokens that had none


def upgrade() -> None:
    op.add_column(  # not in batch mode: see downgrade()
        "users", sa.Column("credentials_epoch", sa.Integer(), server_default="0", nullable=False)
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("epoch", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index("ix_api_tokens_user_id", ["user_id"], unique=False)
    tokens = sa.table("api_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(tokens.update().values(expires_at=datetime.now(UTC) + GRACE))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index("ix_web_sessions_user_id", ["user_id"], unique=False)
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ok", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_column("ok")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_web_sessions_user_id")
        batch_op.drop_column("epoch")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_api_tokens_user_id")
        batch_op.drop_column("epoch")
        batch_op.drop_column("expires_at")
    # Not in batch mode: on SQLite that copies the table and drops the old one, and the drop
    # would cascade to every row that references a user (tokens, sessions, memberships).
    op.drop_column("users", "credentials_epoch")
