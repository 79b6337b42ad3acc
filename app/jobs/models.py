from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
# What a job asked for beyond one process ({"processes": N}), kept beside its config overrides
# (no column of its own); never passed to the recipe's config.
RESOURCES_KEY = "_resources"
TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})


class Job(Base):
    """One run of a recipe on a dataset version. The database is the source of truth for state;
    a broker (when there is one) carries only the job id.

    A worker owns a running job through a lease (``lease_owner``, ``lease_expires_at``) that its
    heartbeat renews; a job is claimed with one conditional UPDATE so it never runs twice at once.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_project_created", "project_id", "created_at"),
        Index("ix_jobs_state_queue", "state", "queue"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("job"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    recipe: Mapped[str] = mapped_column(String(60))
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    holdout_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    base_model: Mapped[str | None] = mapped_column(String(300), default=None)
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    queue: Mapped[str] = mapped_column(String(30), default="default")
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    not_before: Mapped[datetime | None] = mapped_column(default=None)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    checkpoint_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    checkpoint_step: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    error_type: Mapped[str | None] = mapped_column(String(100), default=None)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def resources(self) -> dict[str, Any]:
        """What the job asked for beyond one process, e.g. ``{"processes": 2}``."""
        return dict((self.overrides or {}).get(RESOURCES_KEY) or {"processes": 1})

    @property
    def recipe_overrides(self) -> dict[str, Any]:
        """The overrides of the recipe's config (without the resources)."""
        return {k: v for k, v in (self.overrides or {}).items() if k != RESOURCES_KEY}


class JobEvent(Base):
    """An event of a job, in order: ``id`` increases, so SSE clients resume with Last-Event-ID.

    ``type``: ``state`` (state changes, attempts, retries), ``progress`` (phase, step/total, loss,
    metrics, ETA), ``checkpoint`` (a checkpoint saved to the store), ``log`` (a log line).
    """

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_id_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
