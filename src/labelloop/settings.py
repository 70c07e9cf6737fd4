"""The one settings registry: `LABELLOOP_*` environment variables drive the CLI and library."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    def resolved_database_url(self) -> str:
        """The store URL, defaulting to ``sqlite:///<data_dir>/labelloop.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'labelloop.db').resolve()}"

    def models_dir(self) -> Path:
        """Folder of versioned model files."""
        return self.data_dir / "models"
