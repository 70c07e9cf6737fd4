"""The relational schema. One ``MetaData``; Alembic migrations in ``migrations/`` create it.

Labels are stored as JSON: a string for single-label projects, a sorted list for multi-label ones.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    CursorResult,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy import (
    false as sa_false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def utcnow() -> datetime:
    """Timezone-aware now, the one clock of the store."""
    return datetime.now(UTC)


def aware(at: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives naive UTC ones back)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _ts(name: str, *, nullable: bool = False) -> Column:
    return Column(
        name, DateTime(timezone=True), nullable=nullable, default=utcnow if not nullable else None
    )


def _project_fk() -> Column:
    return Column(
        "project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
    )


projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("config", JSON, nullable=False),
    _ts("created_at"),
)

guidelines = Table(
    "guidelines",
    metadata,
    Column("id", Integer, primary_key=True),
    _project_fk(),
    Column("version", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(100), nullable=False),
    _ts("created_at"),
    UniqueConstraint("project_id", "version", name="uq_guidelines_project_version"),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    _project_fk(),
    Column("key", String(200), nullable=False),
    Column("data", JSON, nullable=False),
    Column("given_label", JSON, nullable=True),
    Column("is_holdout", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False, default="new"),
    Column("tier", String(16), nullable=True),
    Column("priority", Float, nullable=True),
    Column("round_id", Integer, ForeignKey("routing_rounds.id"), nullable=True),
    # Tasks leased or done on the item: compared with the overlap when handing work out.
    Column("assigned", Integer, nullable=False, default=0, server_default="0"),
    # Answers the item needs now: the overlap, raised one by one by dynamic overlap.
    Column("wanted", Integer, nullable=True),
    # Set by a skill rule: only people with this skill on the project get the item.
    Column("skill", String(64), nullable=True),
    # Gold questions: known answer in ``given_label``, status "gold", never in the pool.
    Column("is_gold", Boolean, nullable=False, default=False, server_default=sa_false()),
    Column("gold_note", Text, nullable=True),
    _ts("created_at"),
    UniqueConstraint("project_id", "key", name="uq_items_project_key"),
    Index("ix_items_project_status", "project_id", "status"),
    # The queue's order: lets next-task walk the waiting items by priority and stop early.
    Index("ix_items_project_status_priority", "project_id", "status", "priority"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    _project_fk(),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("n_labels", Integer, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("path", String(500), nullable=True),
    _ts("created_at"),
    UniqueConstraint("project_id", "version", name="uq_model_versions_project_version"),
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column(
        "model_version_id",
        Integer,
        ForeignKey("model_versions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("label", JSON, nullable=False),
    Column("confidence", Float, nullable=False),
    UniqueConstraint("model_version_id", "item_id", name="uq_predictions_version_item"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True),
    _project_fk(),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("priority", Float, nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("round_id", Integer, ForeignKey("routing_rounds.id"), nullable=True),
    Column("assignee", String(100), nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    _ts("created_at"),
    _ts("done_at", nullable=True),
    Index("ix_tasks_project_status_priority", "project_id", "status", "priority"),
    Index("ix_tasks_item_assignee", "item_id", "assignee"),
    Index("ix_tasks_project_assignee", "project_id", "assignee"),
)

LIVE_ANSWER = text(
    "task_id IS NOT NULL AND (flag IS NULL OR flag NOT IN ('retracted', 'duplicate'))"
)

annotations = Table(
    "annotations",
    metadata,
    Column("id", Integer, primary_key=True),
    _project_fk(),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("task_id", Integer, ForeignKey("tasks.id"), nullable=True),
    Column("annotator", String(100), nullable=False),
    Column("label", JSON, nullable=True),  # none when flagged ambiguous
    Column("guideline_version", Integer, nullable=False),
    Column("client_key", String(100), nullable=True, unique=True),
    # "ambiguous", "late" (the item moved on while the lease was open): live answers; "retracted"
    # and "duplicate" (a double submit stored before 0007): kept, never counted.
    Column("flag", String(16), nullable=True),
    _ts("created_at"),
    Index("ix_annotations_item", "item_id"),
    # A task has at most one live answer, whatever the concurrency.
    Index(
        "uq_annotations_live_task",
        "task_id",
        unique=True,
        sqlite_where=LIVE_ANSWER,
        postgresql_where=LIVE_ANSWER,
    ),
)

final_labels = Table(
    "final_labels",
    metadata,
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    _project_fk(),
    Column("label", JSON, nullable=False),
    Column("source", String(16), nullable=False),
    Column("decided_by", String(100), nullable=False),
    Column("model_version", Integer, nullable=True),
    Column("confidence", Float, nullable=True),
    Column("guideline_version", Integer, nullable=True),
    _ts("decided_at"),
    Index("ix_final_labels_project", "project_id"),
)

routing_rounds = Table(
    "routing_rounds",
    metadata,
    Column("id", Integer, primary_key=True),
    _project_fk(),
    Column("attempt", Integer, nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("n_candidates", Integer, nullable=False),
    Column("sample_size", Integer, nullable=False),
    Column("alpha", Float, nullable=False),
    Column("allowed_errors", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("sample_errors", Integer, nullable=True),
    Column("error_bound", Integer, nullable=True),
    _ts("created_at"),
)

audit_samples = Table(
    "audit_samples",
    metadata,
    Column(
        "round_id", Integer, ForeignKey("routing_rounds.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    _project_fk(),
    Column("content_hash", String(64), nullable=False),
    Column("n_items", Integer, nullable=False),
    Column("certified", Boolean, nullable=False, default=False),
    Column("provenance", JSON, nullable=False),
    _ts("created_at"),
    UniqueConstraint("project_id", "content_hash", name="uq_dataset_versions_project_hash"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    # Raised by every "log out everywhere" (deactivation, password change or reset): a session or
    # token is valid only while it carries the epoch its user has now.
    Column("credentials_epoch", Integer, nullable=False, server_default="0"),
    _ts("created_at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    _ts("created_at"),
    _ts("last_used_at", nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("epoch", Integer, nullable=False, server_default="0"),
    Index("ix_api_tokens_user_id", "user_id"),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("csrf_token", String(64), nullable=False),
    _ts("created_at"),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("epoch", Integer, nullable=False, server_default="0"),
    Index("ix_web_sessions_user_id", "user_id"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("id", Integer, primary_key=True),
    _project_fk(),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("skills", JSON, nullable=False),
    # Set when the person's estimated accuracy fell under the project's floor; cleared by admins.
    Column("flagged_at", DateTime(timezone=True), nullable=True),
    Column("flag_reason", Text, nullable=True),
    UniqueConstraint("project_id", "user_id", name="uq_memberships_project_user"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("params", JSON, nullable=True),  # what to run again if its worker dies
    Column("owner", String(100), nullable=True),  # host:pid:token of the worker running it
    _ts("heartbeat_at", nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_by", String(100), nullable=False),
    _ts("created_at"),
    _ts("finished_at", nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(50), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Which audit key signed the hash (HMAC); NULL: a plain SHA-256 chain, kept by a store
    # opened without a key (tests, old events until the first keyed start re-signs them).
    Column("key_id", String(16), nullable=True),
)

# Denied requests (401, 403, 429), counted per minute and source; the audit log gets one event
# for the first of each, so a flood cannot grow the log by one event per request.
denials = Table(
    "denials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("minute", DateTime(timezone=True), nullable=False),
    Column("source", String(64), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(50), nullable=False),
    Column("count", Integer, nullable=False),
    _ts("last_at"),
    UniqueConstraint("minute", "source", "actor", "action"),
)

# Login attempts in the last window, counted by every worker (accounts/throttle.py): a row is
# written before the password is checked and stays a failure unless the check succeeds (ok).
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False),
    Column("ip", String(64), nullable=False),
    _ts("at"),
    Column("ok", Boolean, nullable=False, server_default=sa_false()),
    Index("ix_login_failures_username_at", "username", "at"),
    Index("ix_login_failures_ip_at", "ip", "at"),
    Index("ix_login_failures_at", "at"),
)


def latest_version(conn: Connection, table: Table, project_id: int) -> int:
    """The highest ``version`` in ``table`` (guidelines, model versions) of a project, or 0."""
    query = select(func.max(table.c.version)).where(table.c.project_id == project_id)
    return int(conn.execute(query).scalar() or 0)


def current_guidelines(conn: Connection, project_id: int) -> str:
    """The text of the project's newest guideline version ("" when it has none)."""
    query = (
        select(guidelines.c.text)
        .where(guidelines.c.project_id == project_id)
        .order_by(guidelines.c.version.desc())
        .limit(1)
    )
    return str(conn.execute(query).scalar() or "")


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just stored."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the statement inserted no row")
    return int(key[0])
