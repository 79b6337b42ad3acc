from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    recipe: str
    dataset_sha256: str
    holdout_sha256: str | None
    base_model: str | None
    overrides: dict[str, Any]
    config: dict[str, Any]
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


class JobEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    data: dict[str, Any]
    created_at: datetime
