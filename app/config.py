"""One settings object for the whole service, read from `RUNG_*` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class UnsafeSettingsError(ValueError):
    """Raised when a setting that is fine on a laptop is used outside dev."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNG_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = Field(
        default="dev", description="dev on a laptop; prod refuses unsafe defaults"
    )
    home: Path = Field(
        default=Path("~/.rung"), description="folder for the SQLite file, artifacts and models"
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///$RUNG_HOME/rung.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    artifacts_url: str | None = Field(
        default=None, description="fsspec URL for artifacts; default $RUNG_HOME/artifacts"
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker (redis://... or amqp://...). Unset: the in-process worker",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_cases: int = Field(default=1000, ge=1, description="cases per POST")
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, description="JSON body cap")
    cors_origins: list[str] = Field(default_factory=list)
    max_upload_bytes: int = Field(
        default=20 * 1024**3, ge=1024, description="dataset upload cap (streamed to disk)"
    )
    sqlite_max_queued_writes: int = Field(
        default=128, ge=1, description="SQLite: writes that may wait for the writer (503 beyond)"
    )
    sqlite_write_wait_s: float = Field(
        default=15, gt=0, description="SQLite: longest wait for the writer (503 after)"
    )
    embedded_worker: bool = Field(
        default=True, description="run jobs in-process inside `rung serve` when no broker is set"
    )
    triage_on_ingest: bool = Field(
        default=True,
        description="a worker triages stored cases as they arrive and stores the recommendation; "
        "false: no worker triages, cases stay pending and every recommendation read triages "
        "them itself (slow; for tests)",
    )
    # Optional LLM second opinion / judge (any OpenAI-compatible endpoint).
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    # What the advisory engine assumes about the team's hardware and model.
    gpu_memory_gb: float = Field(default=24.0, gt=0, description="GPU memory at hand, in GB")
    base_model: str = Field(
        default="HuggingFaceTB/SmolLM2-135M-Instruct",
        description="base model the application uses; hub name or local path",
    )
    models_allow: str = Field(
        default="",
        description="folders (separated by ':') whose models and adapters jobs may name by "
        "absolute path; empty: jobs name only hub models and this project's artifacts or jobs",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_outside_dev(self) -> Settings:
        if self.env == "prod":
            if self.resolved_database_url.startswith("sqlite"):
                raise UnsafeSettingsError(
                    "RUNG_ENV=prod needs RUNG_DATABASE_URL set to PostgreSQL, not SQLite"
                )
            if self.broker_url is None:
                raise UnsafeSettingsError(
                    "RUNG_ENV=prod needs RUNG_BROKER_URL (redis://...): the in-process worker "
                    "is for one laptop"
                )
            if "*" in self.cors_origins:
                raise UnsafeSettingsError("RUNG_CORS_ORIGINS must list origins in prod, not '*'")
        return self

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home_dir / 'rung.db'}"

    @property
    def models_allow_dirs(self) -> list[Path]:
        """RUNG_MODELS_ALLOW as absolute folders (relative entries are ignored)."""
        parts = (p.strip() for p in self.models_allow.split(os.pathsep))
        return [Path(p) for p in parts if p and Path(p).is_absolute()]

    @property
    def resolved_artifacts_url(self) -> str:
        return self.artifacts_url or str(self.home_dir / "artifacts")


@lru_cache
def get_settings() -> Settings:
    return Settings()
