"""One settings object for the whole service, read from `RUNG_*` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class UnsafeSettingsError(ValueError):
    """Raised when a setting that is fine on a laptop is used outside dev."""


class WorkerPolicy(BaseModel):
    """Retries, leases, time limits, queues and the task name of jobs: the ONE place they are set.

    Part of `Settings` (``settings.job``): each value is read from ``RUNG_JOB_<NAME>`` (e.g.
    ``RUNG_JOB_MAX_ATTEMPTS=5``) by the settings object, never by the policy itself. Which errors
    are retried, and how, is `app.workers.policy`'s business.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    # Queues a job may go to (a GPU recipe goes to ``gpu``) and the Celery task that runs one.
    queues: ClassVar[tuple[str, ...]] = ("default", "gpu")
    task_name: ClassVar[str] = "rung.run_job"

    max_attempts: int = Field(default=3, ge=1, description="attempts per job, lost workers count")
    lease_s: float = Field(
        default=120, gt=0, description="a running job's lease; a dead worker's job is re-queued "
        "this long after its last heartbeat"
    )
    heartbeat_s: float = Field(
        default=15, gt=0, description="lease renewal period; also how fast cancel is noticed"
    )
    reaper_interval_s: float = Field(default=30, gt=0, description="expired-lease scan period")
    retry_backoff_s: float = Field(default=30, ge=0, description="first retry delay")
    retry_backoff_max_s: float = Field(default=600, ge=0, description="longest retry delay")
    time_limit_s: float = Field(
        default=24 * 3600, gt=0, description="wall-clock limit of one attempt; then failed"
    )
    poll_interval_s: float = Field(
        default=2, gt=0, description="how often a DB-polling worker looks for queued jobs"
    )
    visibility_timeout_s: float = Field(
        default=6 * 3600, gt=0, description="Redis broker: redeliver an unacked message after this"
    )
    undispatched_after_s: float = Field(
        default=60, gt=0, description="re-send a queued job the broker never confirmed after this"
    )
    redispatch_after_s: float = Field(
        default=3600, gt=0, description="re-send a job still queued this long after it was sent "
        "(a broker restarted without persistence loses messages; a duplicate is harmless)"
    )

    @model_validator(mode="after")
    def _heartbeat_inside_lease(self) -> WorkerPolicy:
        if self.heartbeat_s >= self.lease_s:
            raise ValueError(
                f"RUNG_JOB_HEARTBEAT_S ({self.heartbeat_s}) must be shorter than "
                f"RUNG_JOB_LEASE_S ({self.lease_s}), or leases expire while jobs run"
            )
        return self

    def queue_for(self, *, needs_gpu: bool, processes: int = 1) -> str:
        """The queue of a job: ``default``; ``gpu`` for a GPU recipe, ``gpu-N`` when it needs
        N > 1 GPUs (taken only by a worker that owns N GPUs or more)."""
        if not needs_gpu:
            return self.queues[0]
        return self.queues[1] if processes <= 1 else f"{self.queues[1]}-{processes}"

    def gpu_queues(self, gpus: int) -> list[str]:
        """The GPU queues a worker owning ``gpus`` GPUs takes jobs from."""
        return [self.queue_for(needs_gpu=True, processes=n) for n in range(1, max(gpus, 1) + 1)]

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` after attempt ``attempt`` failed."""
        return min(self.retry_backoff_s * 2 ** max(attempt - 1, 0), self.retry_backoff_max_s)


class Settings(BaseSettings):
    # ``RUNG_JOB_<NAME>`` fills ``job.<name>`` (one split after the field name, so names with
    # underscores, e.g. RUNG_JOB_MAX_ATTEMPTS, stay whole).
    model_config = SettingsConfigDict(
        env_prefix="RUNG_", env_file=".env", extra="ignore",
        env_nested_delimiter="_", env_nested_max_split=1,
    )

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
    job: WorkerPolicy = Field(
        default_factory=WorkerPolicy,
        description="job retries, leases and time limits (RUNG_JOB_<NAME>, see WorkerPolicy)",
    )
    models_dir: Path = Field(
        default=Path("~/.rung/models"),
        description="where the offline SmolLM2 copy is converted once (passed to recipes)",
    )
    models_allow: str = Field(
        default="",
        description="folders (separated by ':') whose models and adapters jobs may name by "
        "absolute path; empty: jobs name only hub models and this project's artifacts or jobs",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI (file:/path/mlruns works offline): every training job "
        "logs params, metrics and its adapter there, and eval runs and gate decisions go to "
        "the same experiment; unset: no tracking",
    )
    mlflow_experiment: str = Field(
        default="rung", description="MLflow experiment for jobs, eval runs and gate decisions"
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
    def resolved_models_dir(self) -> Path:
        return self.models_dir.expanduser()

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
