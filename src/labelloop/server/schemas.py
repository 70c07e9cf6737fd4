"""Request and response models of the API: separate from the tables, never a hash or a secret."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from labelloop.accounts.users import MIN_PASSWORD
from labelloop.tiers import Tier

#: An answer as JSON: its shape is the project's task kind's to check (``kinds/``).
Answer = JsonValue


def _utc(at: datetime) -> datetime:
    # SQLite gives naive UTC datetimes back; an answer always says its zone (RFC 3339).
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


Timestamp = Annotated[datetime, AfterValidator(_utc)]


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text: refuse it here, naming the field, not with a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = Annotated[str, AfterValidator(_no_nul)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- auth and users -----------------------------------------------------------------------


class LoginIn(_In):
    username: NoNul = Field(min_length=1, max_length=100)
    password: NoNul = Field(min_length=1, max_length=1000)


class LoginOut(BaseModel):
    username: str
    role: str
    csrf_token: str


class UserOut(BaseModel):
    username: str
    role: str


class AccountOut(UserOut):
    """A user as the admins' list shows them: deactivated ones can no longer log in."""

    active: bool


class UserIn(_In):
    username: NoNul = Field(min_length=1, max_length=100)
    password: NoNul = Field(min_length=1, max_length=1000)
    role: str


class ActiveIn(_In):
    active: bool


class PasswordIn(_In):
    password: NoNul = Field(min_length=MIN_PASSWORD, max_length=1000)


class PasswordChangeIn(_In):
    old_password: NoNul = Field(min_length=1, max_length=1000)
    new_password: NoNul = Field(min_length=MIN_PASSWORD, max_length=1000)


class LoggedOutOut(BaseModel):
    """What ending a user's credentials ended: every session and API token they had."""

    username: str
    sessions_ended: int
    tokens_revoked: int


class RoleIn(_In):
    role: str


class MembershipIn(_In):
    tier: str | None = None
    skills: list[str] = Field(default_factory=list, max_length=50)


class MembershipOut(BaseModel):
    username: str
    role: str
    tier: str
    skills: list[str]
    flagged_at: Timestamp | None = None
    flag_reason: str | None = None


class RouteOut(BaseModel):
    action: str
    reason: str
    round_id: int | None = None
    plan: dict[str, Any] | None = None
    certificate: dict[str, Any] | None = None


class TokenIn(_In):
    name: NoNul = Field(min_length=1, max_length=100)
    days: int | None = Field(
        default=None, ge=1, le=3650, description="Lifetime; default LABELLOOP_TOKEN_DAYS."
    )


class TokenInfoOut(BaseModel):
    id: int
    username: str
    name: str
    created_at: Timestamp
    expires_at: Timestamp
    last_used_at: Timestamp | None
    expired: bool


class TokenOut(BaseModel):
    id: int | None = None
    name: str
    token: str = Field(description="Shown once; only its digest is stored.")
    expires_at: Timestamp | None = None


# -- projects -----------------------------------------------------------------------------


class ProjectSummary(BaseModel):
    name: str
    labels: list[str]
    created_at: Timestamp


class ProjectOut(BaseModel):
    name: str
    config: dict[str, Any]


class GuidelinesOut(BaseModel):
    version: int
    text: str


class GuidelinesIn(_In):
    text: str = Field(max_length=200_000)


# -- items, jobs --------------------------------------------------------------------------


class ItemOut(BaseModel):
    id: int
    key: str
    data: dict[str, Any]
    status: str
    tier: str | None


class JobAccepted(BaseModel):
    job_id: int


class JobOut(BaseModel):
    id: int
    kind: str
    project: str | None
    status: Literal["queued", "running", "done", "failed"]
    progress: int
    result: dict[str, Any] | None
    error: str | None
    attempts: int  # runs so far; above 1 when a worker died and another ran it again
    created_by: str
    created_at: Timestamp
    finished_at: Timestamp | None


# -- tasks --------------------------------------------------------------------------------


class NextTasksIn(_In):
    n: int = Field(default=1, ge=1, le=100)
    tier: Tier = "annotator"
    # The tasks one still holds at this tier first (a reloaded page gets its work back).
    resume: bool = False


class TaskOut(BaseModel):
    """A leased task. At the annotator tier ``item_id`` and ``key`` are withheld (null): ids and
    keys could tell gold, holdout or audit items from the others."""

    task_id: int
    item_id: int | None
    key: str | None
    data: dict[str, Any]
    kind: str
    tier: str
    suggestion: Answer
    confidence: float | None
    lease_expires_at: Timestamp


class SubmitIn(_In):
    label: Answer = None
    flag: Literal["ambiguous"] | None = None
    client_key: str | None = Field(default=None, min_length=1, max_length=64)


class GoldFeedbackOut(BaseModel):
    correct_label: Any
    passage: str | None = None


class RetractOut(BaseModel):
    task_id: int
    lease_expires_at: Timestamp


class SubmitOut(BaseModel):
    """What a submit did. ``decided`` and ``escalated`` are null at the annotator tier: they would
    tell a gold question (never decided) from an ordinary item."""

    annotation_id: int
    created: bool
    decided: bool | None
    escalated: bool | None
    gold_feedback: GoldFeedbackOut | None = None


# -- annotations, models, exports ---------------------------------------------------------


class AnnotationOut(BaseModel):
    id: int
    annotator: str
    label: Answer
    flag: str | None
    tier: str | None
    guideline_version: int
    created_at: Timestamp


class PredictionOut(BaseModel):
    model_version: int
    label: Answer
    confidence: float


class FinalLabelOut(BaseModel):
    label: Answer
    source: str
    decided_by: str
    model_version: int | None
    confidence: float | None
    decided_at: Timestamp


class ItemAnnotationsOut(BaseModel):
    item: ItemOut
    is_holdout: bool
    annotations: list[AnnotationOut]
    prediction: PredictionOut | None
    final_label: FinalLabelOut | None


class ModelOut(BaseModel):
    version: int
    status: str
    n_labels: int
    metrics: dict[str, Any]
    created_at: Timestamp


class ExportIn(_In):
    format: Literal["jsonl", "csv", "parquet"] = "jsonl"


class DatasetVersionOut(BaseModel):
    id: int
    content_hash: str
    n_items: int
    path: str
    format: str
    certified: bool = False


class AuditBreak(BaseModel):
    event_id: int | None = Field(description="None: events missing from the tail.")
    reason: str


class AuditOut(BaseModel):
    ok: bool
    events: int
    head: str = Field(description="Hash of the newest event: with events, an anchor to keep.")
    key_id: str | None = Field(description="The audit key the chain was checked with.")
    breaks: list[AuditBreak]
