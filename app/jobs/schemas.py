from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.jobs.models import RESOURCES_KEY


class JobResources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    processes: int = Field(
        default=1, ge=1, le=64,
        description="training processes (accelerate launch, DDP; FSDP for full_sft on GPUs): "
        "GPUs on a GPU worker (the job waits for a worker that has that many), processes on "
        "a CPU worker",
    )


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipe: str = Field(min_length=1, max_length=60, description="a recipe name, e.g. lora_sft")
    dataset: str = Field(
        min_length=8, max_length=80, description="dataset version: sha256, 8+ char prefix or id"
    )
    base_model: str | None = Field(
        default=None,
        max_length=300,
        description="overrides the recipe's base_model: artifact:<id> or job:<id> of this "
        "project, a hub name, or an absolute path inside RUNG_MODELS_ALLOW",
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="recipe config overrides, checked before queueing; adapter_path (dpo) "
        "takes the same references as base_model",
    )
    holdout: str | None = Field(
        default=None, max_length=80,
        description="another dataset version whose rows are the evaluation set",
    )
    resources: JobResources | None = Field(
        default=None, description="what the run needs beyond one process (training recipes)"
    )

    @model_validator(mode="after")
    def _track_with_mlflow(self) -> JobCreate:
        """RUNG_MLFLOW_TRACKING_URI set: training recipes log to MLflow (app.tracking)."""
        from app.config import get_settings

        settings = get_settings()
        if settings.mlflow_tracking_uri and "report_to" not in self.config:
            from app.tracking import job_tracking_config
            from recipes import REGISTRY

            spec = REGISTRY.get(self.recipe)
            if spec is not None:
                self.config = job_tracking_config(
                    settings, config_class=spec.config_class, overrides=self.config
                )
        return self


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    recipe: str
    dataset_sha256: str
    holdout_sha256: str | None
    base_model: str | None
    overrides: dict[str, Any]
    config: dict[str, Any]
    resources: JobResources
    queue: str
    state: str
    attempts: int
    max_attempts: int
    cancel_requested: bool
    checkpoint_step: int | None
    progress: dict[str, Any]
    metrics: dict[str, Any]
    summary: str | None
    error: str | None
    error_type: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    tracking: dict[str, Any] | None = Field(
        default=None,
        description="where the training run is tracked: backend, tracking_uri, experiment, "
        "run_id (MLflow; RUNG_MLFLOW_TRACKING_URI or the job's report_to)",
    )

    @model_validator(mode="after")
    def _tracking_link(self) -> JobRead:
        from app.tracking import job_tracking

        self.tracking = job_tracking(self.config, self.summary)
        return self

    @field_validator("overrides", mode="after")
    @classmethod
    def _without_resources(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in value.items() if k != RESOURCES_KEY}


class JobEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    data: dict[str, Any]
    created_at: datetime
