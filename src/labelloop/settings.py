"""The one settings registry: `LABELLOOP_*` environment variables drive the CLI and library."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Where labelloop keeps its data. Every field is documented in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="LABELLOOP_", extra="ignore")

    data_dir: Path = Field(
        default=Path("labelloop-data"),
        description="Folder for the SQLite store, model files and exports.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default: a SQLite file in data_dir.",
    )
    pool_size: int = Field(
        default=5,
        ge=1,
        description="Connections each process pools for a PostgreSQL store.",
    )
    max_overflow: int = Field(
        default=10,
        ge=0,
        description="Extra PostgreSQL connections a process may open at peaks, beyond pool_size.",
    )
    pool_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request waits for a free PostgreSQL connection before failing.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Server logs on stderr: text lines, or one JSON object per line.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="The least severe server log records written.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that may read /api/v1/metrics; without one, admins only.",
    )
    scoring: Literal["local", "ray"] = Field(
        default="local",
        description="Where the pool is scored after training: in this process, or on Ray Data.",
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster to score on ('auto', 'ray://host:10001'); default: a local one.",
    )
    ray_workers: int = Field(
        default=2,
        ge=1,
        description="Ray actors that each hold the model and score batches of the pool.",
    )
    max_upload_mb: int = Field(
        default=512,
        ge=1,
        description="Largest file a project import may upload, in MiB; larger ones get 413.",
    )
    max_body_kb: int = Field(
        default=1024,
        ge=1,
        description="Largest request body of every other endpoint, in KiB; larger ones get 413.",
    )
    login_max_failures: int = Field(
        default=10,
        ge=1,
        description="Failed logins allowed per account from one client address within the window.",
    )
    login_max_attempts: int = Field(
        default=100,
        ge=1,
        description="Logins, failed or not, allowed per client address within the window.",
    )
    login_window_seconds: int = Field(
        default=900,
        ge=1,
        description="The sliding window of the login limits; past one, logins get 429.",
    )
    login_backoff_max_seconds: float = Field(
        default=2.0,
        ge=0,
        description="Longest delay before a login to an account that failed login_max_failures "
        "times from anywhere in the window; the delay never refuses.",
    )
    login_concurrent_hashes: int = Field(
        default=2,
        ge=1,
        description="Password hashes (64 MiB each) a process computes at once; a login that "
        "waits over a second for one gets 429.",
    )
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma list of addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the client; none by default: the peer is the client.",
    )
    token_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days an API token lives unless its creator says otherwise.",
    )
    max_tokens_per_user: int = Field(
        default=20,
        ge=1,
        description="Unexpired API tokens one user may hold; creating another is refused.",
    )
    job_heartbeat_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often a worker beats for its jobs; one silent for 3 beats is run again.",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Secret (32+ characters) that signs the audit log's hash chain; default: one "
        "generated once into DATA_DIR/audit.key. Never stored in the database.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def resolved_database_url(self) -> str:
        """The store URL, defaulting to ``sqlite:///<data_dir>/labelloop.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'labelloop.db').resolve()}"

    def models_dir(self) -> Path:
        """Folder of versioned model files."""
        return self.data_dir / "models"
